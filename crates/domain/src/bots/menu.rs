//! The list menu a bot shows (bot_type 3): its multi-level definition, checked on
//! save, and the per-conversation state machine that walks it.
//!
//! A level is shown as a WhatsApp list whose rows read `1. Sales`, `2. Support`…
//! and, below the top, `0. Back`. The customer chooses by tapping a row (its id
//! or title comes back), typing its number or typing its title. Typing `0` or
//! `back` goes up a level, `menu` goes to the top, `exit`/`cancel` leaves the
//! menu. Anything else is asked again, [`MAX_REPROMPTS`] times; after that the
//! menu is dropped and the message is read like any other, so a customer who has
//! moved on is not trapped in a menu.
//!
//! A chosen item either opens its own items (a submenu) or ends the menu with
//! its reply, and with `handoff` also hands the conversation to a person.
//!
//! The state is the path of item indexes from the top. [`navigate`] only ever
//! returns a path that leads to a level of the definition; a stored path that no
//! longer does (the bot was edited meanwhile) is repaired to the top level.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::variables::{Variables, render};
use crate::outbound::{FieldErrors, Interactive, ListRow, ListSection, OutboundContent};
use crate::text::Said;

pub const MAX_REPROMPTS: u8 = 2;
pub const MAX_ITEMS: usize = 9;
pub const MAX_DEPTH: usize = 5;
/// 24 characters for a row title less the `9. ` in front of it.
pub const MAX_TITLE: usize = 21;
const MAX_BODY: usize = 3000;
const MAX_REPLY: usize = 4096;
const MAX_DESCRIPTION: usize = 72;
const MAX_BUTTON: usize = 20;
const MAX_INVALID_TEXT: usize = 500;
const ROW_TITLE: usize = 24;
const LIST_ROWS: usize = 10;
// A valid level always fits one WhatsApp list: its items and the back row, each
// title with its number in front.
const _: () = assert!(MAX_ITEMS < LIST_ROWS && MAX_TITLE + 3 <= ROW_TITLE);

const BACK: [&str; 6] = ["0", "back", "voltar", "volver", "atras", "regresar"];
const TOP: [&str; 5] = ["menu", "main menu", "menu principal", "inicio", "home"];
const EXIT: [&str; 6] = ["exit", "quit", "sair", "salir", "cancel", "cancelar"];

pub const DEFAULT_INVALID_TEXT: &str = "Sorry, that is not one of the options.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuDefinition {
    /// The message above the top level's list.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 3000, pattern = r"\S")
    )]
    pub body: String,
    /// The label of the button that opens the list.
    #[serde(default = "default_button")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 20, pattern = r"\S")
    )]
    pub button: String,
    /// The label of the row that goes up a level.
    #[serde(default = "default_back_title")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 21, pattern = r"\S")
    )]
    pub back_title: String,
    /// Put before the level when a reply is not an option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 500, pattern = r"\S")
    )]
    pub invalid_text: Option<String>,
    pub items: Vec<MenuItem>,
}

fn default_button() -> String {
    "Options".to_owned()
}

fn default_back_title() -> String {
    "Back".to_owned()
}

/// A row of a level: a submenu when it has `items`, else a leaf that replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuItem {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A submenu's message above its list; its title when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub items: Vec<MenuItem>,
    /// A leaf's answer, with `{{variables}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// A leaf that hands the conversation to a person: bots pause after its reply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handoff: bool,
}

/// Where a conversation is in a bot's menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuState {
    pub bot_id: Uuid,
    /// Item indexes from the top level to the level shown; empty at the top.
    #[serde(default)]
    pub path: Vec<usize>,
    /// Invalid replies in a row at this level.
    #[serde(default)]
    pub reprompts: u8,
}

impl MenuState {
    pub fn top(bot_id: Uuid) -> Self {
        Self {
            bot_id,
            path: Vec::new(),
            reprompts: 0,
        }
    }
}

/// What a reply to a menu does.
#[derive(Debug, Clone, PartialEq)]
pub enum MenuStep {
    /// Show the state's level (after an invalid reply, with the invalid text first).
    Show {
        state: MenuState,
        content: OutboundContent,
    },
    /// A leaf was chosen; the menu is over.
    Chosen {
        reply: Option<OutboundContent>,
        handoff: bool,
    },
    /// The customer left the menu; nothing is sent.
    Left,
    /// Too many invalid replies: the menu is over and the reply is read as any message.
    Abandoned,
}

/// One level of the menu: the message above it and its rows.
#[derive(Debug, Clone, Copy)]
struct Level<'d> {
    body: &'d str,
    items: &'d [MenuItem],
    top: bool,
}

impl MenuDefinition {
    /// The level a path leads to, if it leads to one.
    fn level(&self, path: &[usize]) -> Option<Level<'_>> {
        let mut level = Level {
            body: &self.body,
            items: &self.items,
            top: true,
        };
        for index in path {
            let item = level
                .items
                .get(*index)
                .filter(|item| !item.items.is_empty())?;
            level = Level {
                body: item.body.as_deref().unwrap_or(&item.title),
                items: &item.items,
                top: false,
            };
        }
        Some(level)
    }

    /// Whether `state` points at a level of this menu.
    pub fn holds(&self, state: &MenuState) -> bool {
        self.level(&state.path).is_some()
    }
}

/// The top level, to send when the bot fires.
pub fn open(menu: &MenuDefinition, bot_id: Uuid, variables: &dyn Variables) -> MenuStep {
    let state = MenuState::top(bot_id);
    show(menu, state, None, variables)
}

pub fn navigate(
    menu: &MenuDefinition,
    state: &MenuState,
    reply: &str,
    variables: &dyn Variables,
) -> MenuStep {
    let Some(level) = menu.level(&state.path) else {
        return open(menu, state.bot_id, variables);
    };
    let said = Said::new(reply);
    let is_any = |words: &[&str]| words.iter().any(|word| said.is(word));
    let moved = |path: Vec<usize>| MenuState {
        bot_id: state.bot_id,
        path,
        reprompts: 0,
    };
    if is_any(&EXIT) {
        return MenuStep::Left;
    }
    if is_any(&TOP) {
        return show(menu, moved(Vec::new()), None, variables);
    }
    if is_any(&BACK) {
        let mut path = state.path.clone();
        path.pop();
        return show(menu, moved(path), None, variables);
    }
    if let Some(index) = choice(level, &said) {
        let item = &level.items[index];
        if item.items.is_empty() {
            return MenuStep::Chosen {
                reply: item.reply.as_ref().map(|reply| OutboundContent::Text {
                    text: render(reply, variables),
                    preview_url: false,
                }),
                handoff: item.handoff,
            };
        }
        let mut path = state.path.clone();
        path.push(index);
        return show(menu, moved(path), None, variables);
    }
    if state.reprompts >= MAX_REPROMPTS {
        return MenuStep::Abandoned;
    }
    let again = MenuState {
        reprompts: state.reprompts + 1,
        ..state.clone()
    };
    let invalid = menu.invalid_text.as_deref().unwrap_or(DEFAULT_INVALID_TEXT);
    show(menu, again, Some(invalid), variables)
}

/// The item a reply picks: by number, by title, or by the row title as shown.
fn choice(level: Level<'_>, said: &Said) -> Option<usize> {
    let by_number = said
        .as_str()
        .parse::<usize>()
        .ok()
        .filter(|number| (1..=level.items.len()).contains(number))
        .map(|number| number - 1);
    by_number.or_else(|| {
        (0..level.items.len()).find(|index| {
            let title = &level.items[*index].title;
            said.is(title) || said.is(&row_title(index + 1, title))
        })
    })
}

fn row_title(number: usize, title: &str) -> String {
    format!("{number}. {title}")
}

/// `state`'s level as a list, or as numbered text when it cannot be a list
/// (only a definition that skipped validation has such a level).
fn show(
    menu: &MenuDefinition,
    state: MenuState,
    invalid: Option<&str>,
    variables: &dyn Variables,
) -> MenuStep {
    let Some(level) = menu.level(&state.path) else {
        // Unreachable for paths `navigate` builds; kept total rather than panicking.
        return MenuStep::Abandoned;
    };
    let mut body = render(level.body, variables);
    if let Some(invalid) = invalid {
        body = format!("{}\n\n{body}", render(invalid, variables));
    }
    let mut rows: Vec<ListRow> = level
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| ListRow {
            id: (index + 1).to_string(),
            title: row_title(index + 1, &item.title),
            description: item.description.clone(),
        })
        .collect();
    if !level.top {
        rows.push(ListRow {
            id: "0".to_owned(),
            title: row_title(0, &menu.back_title),
            description: None,
        });
    }
    let list = OutboundContent::Interactive(Interactive::List {
        body: body.clone(),
        header: None,
        footer: None,
        button: menu.button.clone(),
        sections: vec![ListSection { title: None, rows }],
    });
    let content = if list.validate().is_ok() {
        list
    } else {
        let OutboundContent::Interactive(Interactive::List { sections, .. }) = &list else {
            return MenuStep::Abandoned;
        };
        let lines: Vec<&str> = sections
            .iter()
            .flat_map(|section| section.rows.iter().map(|row| row.title.as_str()))
            .collect();
        OutboundContent::Text {
            text: format!("{body}\n\n{}", lines.join("\n")),
            preview_url: false,
        }
    };
    MenuStep::Show { state, content }
}

/// Every way the definition breaks the rules above, by field path.
pub fn validate(menu: &MenuDefinition) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    text(&mut errors, "body", &menu.body, MAX_BODY);
    text(&mut errors, "button", &menu.button, MAX_BUTTON);
    text(&mut errors, "back_title", &menu.back_title, MAX_TITLE);
    if let Some(invalid) = &menu.invalid_text {
        text(&mut errors, "invalid_text", invalid, MAX_INVALID_TEXT);
    }
    validate_level(&mut errors, "items", &menu.items, 1);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn validate_level(errors: &mut FieldErrors, field: &str, items: &[MenuItem], depth: usize) {
    if depth > MAX_DEPTH {
        errors.push((
            field.to_owned(),
            format!("menus nest at most {MAX_DEPTH} levels deep"),
        ));
        return;
    }
    if !(1..=MAX_ITEMS).contains(&items.len()) {
        errors.push((
            field.to_owned(),
            format!("must hold 1 to {MAX_ITEMS} items, {} given", items.len()),
        ));
    }
    for (index, item) in items.iter().enumerate() {
        let path = format!("{field}[{index}]");
        let title = Said::new(&item.title);
        text(errors, &format!("{path}.title"), &item.title, MAX_TITLE);
        if title.as_str().parse::<u64>().is_ok()
            || BACK
                .iter()
                .chain(&TOP)
                .chain(&EXIT)
                .any(|word| title.is(word))
        {
            errors.push((
                format!("{path}.title"),
                "must not be a number or a navigation word (back, menu, exit…)".to_owned(),
            ));
        } else if items[..index]
            .iter()
            .any(|other| !title.is_empty() && title.is(&other.title))
        {
            errors.push((
                format!("{path}.title"),
                "must be unique in its level".to_owned(),
            ));
        }
        if let Some(description) = &item.description {
            max(
                errors,
                &format!("{path}.description"),
                description,
                MAX_DESCRIPTION,
            );
        }
        if item.items.is_empty() {
            match &item.reply {
                Some(reply) => text(errors, &format!("{path}.reply"), reply, MAX_REPLY),
                None if !item.handoff => errors.push((
                    format!("{path}.reply"),
                    "an item without items needs a reply or a handoff".to_owned(),
                )),
                None => {}
            }
            if let Some(body) = &item.body {
                if !body.trim().is_empty() {
                    errors.push((
                        format!("{path}.body"),
                        "only an item with items shows a body".to_owned(),
                    ));
                }
            }
        } else {
            if item.reply.is_some() || item.handoff {
                errors.push((
                    format!("{path}.reply"),
                    "an item with items opens them; it has no reply or handoff".to_owned(),
                ));
            }
            if let Some(body) = &item.body {
                text(errors, &format!("{path}.body"), body, MAX_BODY);
            }
            validate_level(errors, &format!("{path}.items"), &item.items, depth + 1);
        }
    }
}

fn text(errors: &mut FieldErrors, field: &str, value: &str, limit: usize) {
    if value.trim().is_empty() {
        errors.push((field.to_owned(), "must not be empty".to_owned()));
    } else {
        max(errors, field, value, limit);
    }
}

fn max(errors: &mut FieldErrors, field: &str, value: &str, limit: usize) {
    let length = value.chars().count();
    if length > limit {
        errors.push((
            field.to_owned(),
            format!("must be at most {limit} characters, {length} given"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    fn leaf(title: &str, reply: &str) -> MenuItem {
        MenuItem {
            title: title.into(),
            description: None,
            body: None,
            items: Vec::new(),
            reply: Some(reply.into()),
            handoff: false,
        }
    }

    fn submenu(title: &str, items: Vec<MenuItem>) -> MenuItem {
        MenuItem {
            title: title.into(),
            description: None,
            body: Some(format!("{title}: what exactly?")),
            items,
            reply: None,
            handoff: false,
        }
    }

    /// Top: 1. Sales (1. Prices, 2. Plans (1. Basic, 2. Pro)), 2. Hours, 3. Agent.
    fn shop() -> MenuDefinition {
        MenuDefinition {
            body: "Hi {{first_name}}, how can we help?".into(),
            button: default_button(),
            back_title: default_back_title(),
            invalid_text: None,
            items: vec![
                submenu(
                    "Sales",
                    vec![
                        leaf("Prices", "Our prices start at $10."),
                        submenu(
                            "Plans",
                            vec![leaf("Basic", "Basic: $10"), leaf("Pro", "Pro: $30")],
                        ),
                    ],
                ),
                leaf("Opening hours", "We open 9 to 5."),
                MenuItem {
                    handoff: true,
                    ..leaf("Talk to an agent", "An agent will write to you shortly.")
                },
            ],
        }
    }

    fn shown(step: &MenuStep) -> (&MenuState, &OutboundContent) {
        match step {
            MenuStep::Show { state, content } => (state, content),
            other => panic!("expected a level, got {other:?}"),
        }
    }

    fn rows(content: &OutboundContent) -> Vec<String> {
        match content {
            OutboundContent::Interactive(Interactive::List { sections, .. }) => sections[0]
                .rows
                .iter()
                .map(|row| row.title.clone())
                .collect(),
            other => panic!("expected a list, got {other:?}"),
        }
    }

    fn bot() -> Uuid {
        Uuid::from_u128(7)
    }

    #[test]
    fn the_example_menu_is_valid_and_opens_at_the_top() {
        let menu = shop();
        assert_eq!(validate(&menu), Ok(()));
        let first_name = |name: &str| (name == "first_name").then(|| "Asha".to_owned());
        let step = open(&menu, bot(), &first_name);
        let (state, content) = shown(&step);
        assert_eq!(state, &MenuState::top(bot()));
        assert_eq!(
            rows(content),
            ["1. Sales", "2. Opening hours", "3. Talk to an agent"]
        );
        assert_eq!(content.preview(), "Hi Asha, how can we help?");
        assert_eq!(content.validate(), Ok(()));
    }

    #[test]
    fn numbers_titles_and_tapped_rows_choose_the_same_item() {
        let menu = shop();
        for reply in ["1", " 1. ", "sales", "SALES!", "1. Sales"] {
            let step = navigate(&menu, &MenuState::top(bot()), reply, &none);
            let (state, content) = shown(&step);
            assert_eq!(state.path, [0], "{reply}");
            assert_eq!(rows(content), ["1. Prices", "2. Plans", "0. Back"]);
        }
    }

    #[test]
    fn a_leaf_replies_and_ends_the_menu() {
        let menu = shop();
        let in_plans = MenuState {
            path: vec![0, 1],
            ..MenuState::top(bot())
        };
        assert_eq!(
            navigate(&menu, &in_plans, "2", &none),
            MenuStep::Chosen {
                reply: Some(OutboundContent::Text {
                    text: "Pro: $30".into(),
                    preview_url: false
                }),
                handoff: false
            }
        );
        let MenuStep::Chosen { handoff, .. } =
            navigate(&menu, &MenuState::top(bot()), "talk to an agent", &none)
        else {
            panic!("chosen");
        };
        assert!(handoff);
    }

    #[test]
    fn back_goes_up_and_menu_goes_to_the_top() {
        let menu = shop();
        let in_plans = MenuState {
            path: vec![0, 1],
            ..MenuState::top(bot())
        };
        for back in ["0", "Back", "voltar", "atrás"] {
            let step = navigate(&menu, &in_plans, back, &none);
            assert_eq!(shown(&step).0.path, [0], "{back}");
        }
        let step = navigate(&menu, &in_plans, "Menu", &none);
        assert_eq!(shown(&step).0.path, Vec::<usize>::new());
        // Back at the top stays at the top.
        let step = navigate(&menu, &MenuState::top(bot()), "0", &none);
        assert_eq!(shown(&step).0, &MenuState::top(bot()));
        assert_eq!(
            navigate(&menu, &in_plans, "cancelar", &none),
            MenuStep::Left
        );
    }

    #[test]
    fn an_invalid_choice_is_asked_again_then_the_menu_lets_go() {
        let menu = shop();
        let mut state = MenuState::top(bot());
        for attempt in 1..=MAX_REPROMPTS {
            let step = navigate(&menu, &state, "7", &none);
            let (next, content) = shown(&step);
            assert_eq!(next.reprompts, attempt);
            assert!(content.preview().starts_with(DEFAULT_INVALID_TEXT));
            state = next.clone();
        }
        assert_eq!(
            navigate(&menu, &state, "where is my order?", &none),
            MenuStep::Abandoned
        );
        // A valid choice forgets the earlier invalid ones.
        let step = navigate(&menu, &state, "1", &none);
        assert_eq!(shown(&step).0.reprompts, 0);
    }

    #[test]
    fn a_stale_state_is_repaired_to_the_top() {
        let menu = shop();
        let stale = MenuState {
            path: vec![2, 5],
            ..MenuState::top(bot())
        };
        assert!(!menu.holds(&stale));
        let step = navigate(&menu, &stale, "1", &none);
        assert_eq!(shown(&step).0, &MenuState::top(bot()));
    }

    #[test]
    fn validation_names_every_broken_field() {
        let menu: MenuDefinition = serde_json::from_value(json!({
            "body": " ",
            "items": [
                {"title": "Sales", "items": [{"title": "Back", "reply": "x"}], "reply": "?"},
                {"title": "sales!", "reply": "dup"},
                {"title": "42", "reply": "number"},
                {"title": "Nothing"},
                {"title": "A title that is far too long", "reply": "x"},
            ]
        }))
        .unwrap();
        let fields: Vec<String> = validate(&menu)
            .unwrap_err()
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            [
                "body",
                "items[0].reply",
                "items[0].items[0].title",
                "items[1].title",
                "items[2].title",
                "items[3].reply",
                "items[4].title",
            ]
        );
        let too_many = MenuDefinition {
            items: (0..10).map(|n| leaf(&format!("Item {n}"), "x")).collect(),
            ..shop()
        };
        assert!(validate(&too_many).is_err());
    }

    fn arb_tree() -> impl Strategy<Value = Vec<MenuItem>> {
        let leaf_item = ("[a-c]{1,2}", any::<bool>()).prop_map(|(title, handoff)| MenuItem {
            handoff,
            ..leaf(&title, "ok")
        });
        let item = leaf_item.prop_recursive(3, 30, 4, |inner| {
            ("[a-c]{1,2}", prop::collection::vec(inner, 0..4))
                .prop_map(|(title, items)| submenu(&title, items))
        });
        prop::collection::vec(item, 0..5)
    }

    /// The same tree with unique titles, a reply on every leaf and a non-empty top.
    fn made_valid(items: Vec<MenuItem>) -> Vec<MenuItem> {
        fn fix(items: Vec<MenuItem>) -> Vec<MenuItem> {
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    let title = format!("Option {index}");
                    if item.items.is_empty() {
                        MenuItem {
                            handoff: item.handoff,
                            ..leaf(&title, "ok")
                        }
                    } else {
                        submenu(&title, fix(item.items))
                    }
                })
                .collect()
        }
        let items = if items.is_empty() {
            vec![leaf("Only", "ok")]
        } else {
            items
        };
        fix(items)
    }

    fn arb_reply() -> impl Strategy<Value = String> {
        prop_oneof![
            (0usize..7).prop_map(|n| n.to_string()),
            "[a-c]{1,2}",
            Just("back".to_owned()),
            Just("menu".to_owned()),
            Just("exit".to_owned()),
            any::<String>(),
        ]
    }

    proptest! {
        /// Whatever the definition (even one that skipped validation), the stored
        /// state and the replies, every state navigation returns leads to a level.
        #[test]
        fn navigation_never_reaches_an_invalid_state(
            items in arb_tree(),
            start in prop::collection::vec(0usize..5, 0..4),
            replies in prop::collection::vec(arb_reply(), 1..12),
        ) {
            let menu = MenuDefinition { items, ..shop() };
            let mut state = MenuState { path: start, ..MenuState::top(bot()) };
            for reply in replies {
                match navigate(&menu, &state, &reply, &none) {
                    MenuStep::Show { state: next, .. } => {
                        prop_assert!(menu.holds(&next), "{:?} after {:?}", next, reply);
                        prop_assert!(next.reprompts <= MAX_REPROMPTS);
                        state = next;
                    }
                    MenuStep::Chosen { .. } | MenuStep::Left | MenuStep::Abandoned => {
                        state = MenuState::top(bot());
                    }
                }
            }
        }

        /// A valid menu always renders as a list WhatsApp accepts.
        #[test]
        fn a_valid_menu_always_shows_a_valid_list(
            items in arb_tree(),
            replies in prop::collection::vec(arb_reply(), 1..12),
        ) {
            let menu = MenuDefinition { items: made_valid(items), ..shop() };
            prop_assert_eq!(validate(&menu), Ok(()));
            let mut state = MenuState::top(bot());
            for reply in replies {
                if let MenuStep::Show { state: next, content } = navigate(&menu, &state, &reply, &none) {
                    prop_assert!(matches!(content, OutboundContent::Interactive(_)));
                    prop_assert_eq!(content.validate(), Ok(()));
                    state = next;
                }
            }
        }
    }
}
