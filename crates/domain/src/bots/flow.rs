//! The flow bot (bot_type 4): a JSON graph of nodes and edges, checked on save,
//! and stepping a conversation through it.
//!
//! Nodes: `message` (send a text), `question` (send a text, optionally with up
//! to three buttons, and wait for the reply, optionally stored in a variable),
//! `condition` (branch on a variable without waiting), `set_variable`,
//! `handoff` (optionally send a text, then hand the conversation to a person)
//! and `end`. Edges leave a node in order; each carries a condition on the reply
//! (or, from a `condition` node, on its variable): `any`, `equals`, `contains`
//! (compared as triggers compare, ignoring case, accents and punctuation) or
//! `else`, taken when no other edge of the node holds.
//!
//! Texts take `{{variables}}`: the flow's own first, then the conversation's
//! (`name`, `first_name`, `phone`…).
//!
//! A step runs from a node until the flow waits at a question or ends. Loops are
//! allowed when they go through a question (ask again until the answer fits);
//! [`validate`] refuses a loop that never waits, and, whatever was stored, a step
//! stops after [`STEP_BUDGET`] nodes, so no graph can hang the worker.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::variables::{Variables, render};
use crate::outbound::{FieldErrors, Interactive, OutboundContent, ReplyButton};
use crate::text::Said;

pub const MAX_NODES: usize = 100;
/// More than a valid flow can visit in one step: its nodes that do not wait form
/// no loop, so a step visits each at most once before it waits or ends.
pub const STEP_BUDGET: usize = MAX_NODES + 28;
const MAX_ID: usize = 64;
const MAX_TEXT: usize = 4096;
const MAX_BUTTON_BODY: usize = 1024;
const MAX_BUTTONS: usize = 3;
const MAX_BUTTON_TITLE: usize = 20;
const MAX_VALUE: usize = 1024;
const MAX_VARIABLE_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowDefinition {
    /// The id of the node the flow starts at.
    pub start: String,
    pub nodes: Vec<FlowNode>,
    #[serde(default)]
    pub edges: Vec<FlowEdge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowNode {
    pub id: String,
    #[serde(flatten)]
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeKind {
    Message {
        text: String,
    },
    Question {
        text: String,
        /// Where the reply is kept, for later texts and conditions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        variable: Option<String>,
        /// Reply buttons; a tap comes back as the button's title.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<String>,
    },
    Condition {
        variable: String,
    },
    SetVariable {
        variable: String,
        /// With `{{variables}}`.
        value: String,
    },
    Handoff {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    End {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
}

impl NodeKind {
    fn waits(&self) -> bool {
        matches!(self, Self::Question { .. })
    }

    fn branches(&self) -> bool {
        matches!(self, Self::Question { .. } | Self::Condition { .. })
    }

    fn ends(&self) -> bool {
        matches!(self, Self::Handoff { .. } | Self::End { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowEdge {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub condition: EdgeCondition,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EdgeCondition {
    #[default]
    Any,
    Equals {
        value: String,
    },
    Contains {
        value: String,
    },
    Else,
}

impl EdgeCondition {
    fn holds(&self, said: &Said) -> bool {
        match self {
            Self::Any => true,
            Self::Equals { value } => said.is(value),
            Self::Contains { value } => said.contains(value),
            Self::Else => false,
        }
    }
}

/// Where a conversation waits in a bot's flow, and what it has answered so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowState {
    pub bot_id: Uuid,
    /// The question node waiting for the reply.
    pub node: String,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowEnd {
    /// At a question, waiting for the reply.
    Waiting,
    Finished,
    /// At a handoff node: bots pause until the conversation is resolved.
    Handoff,
    /// The step visited [`STEP_BUDGET`] nodes without waiting; the flow is dropped.
    BudgetExhausted,
    /// A missing node or no edge to follow; the flow is dropped.
    Broken,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowRun {
    pub messages: Vec<OutboundContent>,
    /// Present exactly when the step ended `Waiting`.
    pub state: Option<FlowState>,
    pub end: FlowEnd,
}

impl FlowDefinition {
    fn node(&self, id: &str) -> Option<&FlowNode> {
        self.nodes.iter().find(|node| node.id == id)
    }

    /// The edge a node leaves by: the first that holds, else its `else` edge.
    fn next(&self, from: &str, said: &Said) -> Option<&str> {
        let mut fallback = None;
        for edge in self.edges.iter().filter(|edge| edge.from == from) {
            if edge.condition == EdgeCondition::Else {
                fallback = fallback.or(Some(edge.to.as_str()));
            } else if edge.condition.holds(said) {
                return Some(&edge.to);
            }
        }
        fallback
    }

    /// Whether `state` waits at a question of this flow.
    pub fn holds(&self, state: &FlowState) -> bool {
        self.node(&state.node).is_some_and(|node| node.kind.waits())
    }
}

/// The first step, when the bot fires.
pub fn start(flow: &FlowDefinition, bot_id: Uuid, outer: &dyn Variables) -> FlowRun {
    run(flow, bot_id, &flow.start, BTreeMap::new(), outer)
}

/// The step after the customer's reply; `None` when `state` does not wait at a
/// question of `flow` (the bot was edited meanwhile).
pub fn resume(
    flow: &FlowDefinition,
    state: &FlowState,
    reply: &str,
    outer: &dyn Variables,
) -> Option<FlowRun> {
    let node = flow.node(&state.node)?;
    let NodeKind::Question { variable, .. } = &node.kind else {
        return None;
    };
    let mut variables = state.variables.clone();
    if let Some(variable) = variable {
        let kept: String = reply.trim().chars().take(MAX_VALUE).collect();
        variables.insert(variable.to_ascii_lowercase(), kept);
    }
    Some(match flow.next(&node.id, &Said::new(reply)) {
        Some(to) => run(flow, state.bot_id, to, variables, outer),
        None => FlowRun {
            messages: Vec::new(),
            state: None,
            end: FlowEnd::Broken,
        },
    })
}

fn run(
    flow: &FlowDefinition,
    bot_id: Uuid,
    from: &str,
    mut variables: BTreeMap<String, String>,
    outer: &dyn Variables,
) -> FlowRun {
    let mut messages = Vec::new();
    let finish = |messages, end| FlowRun {
        messages,
        state: None,
        end,
    };
    let mut at = from.to_owned();
    for _ in 0..STEP_BUDGET {
        let Some(node) = flow.node(&at) else {
            return finish(messages, FlowEnd::Broken);
        };
        let lookup = |name: &str| variables.get(name).cloned().or_else(|| outer.get(name));
        let mut said = Said::new("");
        match &node.kind {
            NodeKind::Message { text } => messages.push(text_message(render(text, &lookup))),
            NodeKind::Question { text, buttons, .. } => {
                messages.push(question(render(text, &lookup), buttons));
                return FlowRun {
                    messages,
                    state: Some(FlowState {
                        bot_id,
                        node: node.id.clone(),
                        variables,
                    }),
                    end: FlowEnd::Waiting,
                };
            }
            NodeKind::Condition { variable } => {
                said = Said::new(&lookup(&variable.to_ascii_lowercase()).unwrap_or_default());
            }
            NodeKind::SetVariable { variable, value } => {
                let value: String = render(value, &lookup).chars().take(MAX_VALUE).collect();
                variables.insert(variable.to_ascii_lowercase(), value);
            }
            NodeKind::Handoff { text } | NodeKind::End { text } => {
                if let Some(text) = text {
                    messages.push(text_message(render(text, &lookup)));
                }
                let end = if matches!(node.kind, NodeKind::Handoff { .. }) {
                    FlowEnd::Handoff
                } else {
                    FlowEnd::Finished
                };
                return finish(messages, end);
            }
        }
        match flow.next(&node.id, &said) {
            Some(to) => at = to.to_owned(),
            None => return finish(messages, FlowEnd::Broken),
        }
    }
    finish(messages, FlowEnd::BudgetExhausted)
}

fn text_message(text: String) -> OutboundContent {
    OutboundContent::Text {
        text,
        preview_url: false,
    }
}

fn question(text: String, buttons: &[String]) -> OutboundContent {
    if buttons.is_empty() {
        return text_message(text);
    }
    OutboundContent::Interactive(Interactive::Buttons {
        body: text,
        header: None,
        footer: None,
        // The title is the id too, so a reply reads the same whichever the provider reports.
        buttons: buttons
            .iter()
            .map(|title| ReplyButton {
                id: title.clone(),
                title: title.clone(),
            })
            .collect(),
    })
}

/// Every way the graph breaks the rules in the module comment, by field path.
pub fn validate(flow: &FlowDefinition) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut push = |field: String, message: String| errors.push((field, message));
    if !(1..=MAX_NODES).contains(&flow.nodes.len()) {
        push(
            "nodes".into(),
            format!(
                "must hold 1 to {MAX_NODES} nodes, {} given",
                flow.nodes.len()
            ),
        );
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (position, node) in flow.nodes.iter().enumerate() {
        let field = format!("nodes[{position}]");
        if node.id.trim().is_empty() || node.id.chars().count() > MAX_ID {
            push(
                format!("{field}.id"),
                format!("must be 1 to {MAX_ID} characters"),
            );
        } else if index.insert(&node.id, position).is_some() {
            push(
                format!("{field}.id"),
                format!("`{}` is used twice", node.id),
            );
        }
        validate_node(&mut push, &field, &node.kind);
    }
    if !index.contains_key(flow.start.as_str()) {
        push("start".into(), format!("names no node: `{}`", flow.start));
    }
    for (position, edge) in flow.edges.iter().enumerate() {
        let field = format!("edges[{position}]");
        for (end, id) in [("from", &edge.from), ("to", &edge.to)] {
            if !index.contains_key(id.as_str()) {
                push(format!("{field}.{end}"), format!("names no node: `{id}`"));
            }
        }
        if let EdgeCondition::Equals { value } | EdgeCondition::Contains { value } = &edge.condition
        {
            if Said::new(value).is_empty() {
                push(
                    format!("{field}.condition.value"),
                    "must hold a word to compare".into(),
                );
            }
        }
    }
    for (position, node) in flow.nodes.iter().enumerate() {
        validate_exits(&mut push, flow, position, node);
    }
    let reachable = reachable(flow);
    for (position, node) in flow.nodes.iter().enumerate() {
        if !reachable.contains(node.id.as_str()) && index.contains_key(flow.start.as_str()) {
            push(
                format!("nodes[{position}]"),
                format!("`{}` cannot be reached from the start", node.id),
            );
        }
    }
    if let Some(cycle) = loop_without_question(flow) {
        push(
            "edges".into(),
            format!("{} loops without waiting for a reply", cycle.join(" → ")),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn validate_node(push: &mut impl FnMut(String, String), field: &str, kind: &NodeKind) {
    match kind {
        NodeKind::Message { text } => check_text(push, format!("{field}.text"), text, MAX_TEXT),
        NodeKind::Question {
            text,
            variable,
            buttons,
        } => {
            let limit = if buttons.is_empty() {
                MAX_TEXT
            } else {
                MAX_BUTTON_BODY
            };
            check_text(push, format!("{field}.text"), text, limit);
            if buttons.len() > MAX_BUTTONS {
                push(
                    format!("{field}.buttons"),
                    format!("at most {MAX_BUTTONS} buttons, {} given", buttons.len()),
                );
            }
            for (position, title) in buttons.iter().enumerate() {
                let button = format!("{field}.buttons[{position}]");
                if buttons[..position].contains(title) {
                    push(button, "must be unique".into());
                } else {
                    check_text(push, button, title, MAX_BUTTON_TITLE);
                }
            }
            if let Some(variable) = variable {
                variable_name(push, &format!("{field}.variable"), variable);
            }
        }
        NodeKind::Condition { variable } => {
            variable_name(push, &format!("{field}.variable"), variable);
        }
        NodeKind::SetVariable { variable, value } => {
            variable_name(push, &format!("{field}.variable"), variable);
            if value.chars().count() > MAX_VALUE {
                push(
                    format!("{field}.value"),
                    format!("must be at most {MAX_VALUE} characters"),
                );
            }
        }
        NodeKind::Handoff { text } | NodeKind::End { text } => {
            if let Some(text) = text {
                check_text(push, format!("{field}.text"), text, MAX_TEXT);
            }
        }
    }
}

fn check_text(push: &mut impl FnMut(String, String), field: String, value: &str, limit: usize) {
    let length = value.chars().count();
    if value.trim().is_empty() {
        push(field, "must not be empty".into());
    } else if length > limit {
        push(
            field,
            format!("must be at most {limit} characters, {length} given"),
        );
    }
}

/// Names as `{{placeholders}}` spell them: letters, digits, `_` and `.`.
fn variable_name(push: &mut impl FnMut(String, String), field: &str, name: &str) {
    let valid = !name.is_empty()
        && name.len() <= MAX_VARIABLE_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid {
        push(
            field.to_owned(),
            format!("must be 1 to {MAX_VARIABLE_NAME} letters, digits, `_` or `.`"),
        );
    }
}

fn validate_exits(
    push: &mut impl FnMut(String, String),
    flow: &FlowDefinition,
    position: usize,
    node: &FlowNode,
) {
    let field = format!("nodes[{position}]");
    let exits: Vec<&FlowEdge> = flow.edges.iter().filter(|e| e.from == node.id).collect();
    let elses = exits
        .iter()
        .filter(|edge| edge.condition == EdgeCondition::Else)
        .count();
    let anys = exits
        .iter()
        .filter(|edge| edge.condition == EdgeCondition::Any)
        .count();
    if node.kind.ends() {
        if !exits.is_empty() {
            push(field, "ends the flow, so no edge may leave it".into());
        }
    } else if node.kind.branches() {
        if elses > 1 {
            push(field, "has more than one `else` edge".into());
        } else if elses == 0 && anys == 0 {
            push(
                field,
                "needs an `else` (or `any`) edge so every reply leads somewhere".into(),
            );
        }
    } else if exits.len() != 1 || anys != 1 {
        push(
            field,
            "continues along exactly one edge, whose condition is `any`".into(),
        );
    }
}

fn reachable(flow: &FlowDefinition) -> HashSet<&str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue = vec![flow.start.as_str()];
    while let Some(id) = queue.pop() {
        if flow.node(id).is_none() || !seen.insert(id) {
            continue;
        }
        queue.extend(
            flow.edges
                .iter()
                .filter(|edge| edge.from == id)
                .map(|edge| edge.to.as_str()),
        );
    }
    seen
}

/// A loop made only of nodes that do not wait, as node ids, first one repeated.
fn loop_without_question(flow: &FlowDefinition) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let no_wait: Vec<&FlowNode> = flow.nodes.iter().filter(|n| !n.kind.waits()).collect();
    let position: HashMap<&str, usize> = no_wait
        .iter()
        .enumerate()
        .map(|(position, node)| (node.id.as_str(), position))
        .collect();
    let successors: Vec<Vec<usize>> = no_wait
        .iter()
        .map(|node| {
            flow.edges
                .iter()
                .filter(|edge| edge.from == node.id)
                .filter_map(|edge| position.get(edge.to.as_str()).copied())
                .collect()
        })
        .collect();
    let mut marks = vec![Mark::New; no_wait.len()];
    // Iterative depth-first search: (node, next successor to look at).
    for root in 0..no_wait.len() {
        if marks[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Open;
        while let Some((node, next)) = stack.last().copied() {
            let Some(&successor) = successors[node].get(next) else {
                marks[node] = Mark::Done;
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            match marks[successor] {
                Mark::New => {
                    marks[successor] = Mark::Open;
                    stack.push((successor, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|(n, _)| *n == successor)?;
                    let mut cycle: Vec<String> = stack[from..]
                        .iter()
                        .map(|(n, _)| no_wait[*n].id.clone())
                        .collect();
                    cycle.push(no_wait[successor].id.clone());
                    return Some(cycle);
                }
                Mark::Done => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn bot() -> Uuid {
        Uuid::from_u128(4)
    }

    fn asha(name: &str) -> Option<String> {
        (name == "first_name").then(|| "Asha".to_owned())
    }

    /// Greets, asks the budget with buttons, asks again until it is understood.
    fn budget() -> FlowDefinition {
        serde_json::from_value(json!({
            "start": "hello",
            "nodes": [
                {"id": "hello", "type": "message", "text": "Hi {{first_name}}!"},
                {"id": "ask", "type": "question", "text": "What is your budget?",
                 "variable": "budget", "buttons": ["Low", "High"]},
                {"id": "again", "type": "message", "text": "Please tap Low or High."},
                {"id": "tier", "type": "set_variable", "variable": "tier", "value": "gold for {{first_name}}"},
                {"id": "check", "type": "condition", "variable": "tier"},
                {"id": "gold", "type": "end", "text": "You get {{tier}} ({{budget}})."},
                {"id": "low", "type": "handoff", "text": "An agent will help you choose."},
                {"id": "odd", "type": "end"}
            ],
            "edges": [
                {"from": "hello", "to": "ask"},
                {"from": "ask", "to": "tier", "condition": {"type": "equals", "value": "high"}},
                {"from": "ask", "to": "low", "condition": {"type": "contains", "value": "low"}},
                {"from": "ask", "to": "again", "condition": {"type": "else"}},
                {"from": "again", "to": "ask"},
                {"from": "tier", "to": "check"},
                {"from": "check", "to": "gold", "condition": {"type": "contains", "value": "gold"}},
                {"from": "check", "to": "odd", "condition": {"type": "else"}}
            ]
        }))
        .unwrap()
    }

    fn texts(run: &FlowRun) -> Vec<String> {
        run.messages.iter().map(OutboundContent::preview).collect()
    }

    #[test]
    fn the_example_flow_is_valid_and_round_trips() {
        let flow = budget();
        assert_eq!(validate(&flow), Ok(()));
        let json = serde_json::to_value(&flow).unwrap();
        assert_eq!(
            serde_json::from_value::<FlowDefinition>(json).unwrap(),
            flow
        );
    }

    #[test]
    fn starting_sends_until_the_first_question_and_waits_there() {
        let run = start(&budget(), bot(), &asha);
        assert_eq!(texts(&run), ["Hi Asha!", "What is your budget?"]);
        assert_eq!(run.end, FlowEnd::Waiting);
        assert!(matches!(
            &run.messages[1],
            OutboundContent::Interactive(Interactive::Buttons { buttons, .. }) if buttons.len() == 2
        ));
        let state = run.state.unwrap();
        assert_eq!(state.node, "ask");
        assert!(budget().holds(&state));
    }

    #[test]
    fn a_reply_follows_the_matching_edge_with_its_variables() {
        let flow = budget();
        let waiting = start(&flow, bot(), &asha).state.unwrap();
        let run = resume(&flow, &waiting, "HIGH!", &asha).unwrap();
        assert_eq!(texts(&run), ["You get gold for Asha (HIGH!)."]);
        assert_eq!(run.end, FlowEnd::Finished);
        assert_eq!(run.state, None);

        let run = resume(&flow, &waiting, "quite low really", &asha).unwrap();
        assert_eq!(run.end, FlowEnd::Handoff);
        assert_eq!(texts(&run), ["An agent will help you choose."]);
    }

    #[test]
    fn an_unexpected_reply_takes_the_else_edge_back_to_the_question() {
        let flow = budget();
        let waiting = start(&flow, bot(), &asha).state.unwrap();
        let run = resume(&flow, &waiting, "maybe", &asha).unwrap();
        assert_eq!(
            texts(&run),
            ["Please tap Low or High.", "What is your budget?"]
        );
        let again = run.state.unwrap();
        assert_eq!(again.node, "ask");
        assert_eq!(again.variables["budget"], "maybe");
    }

    #[test]
    fn a_state_that_no_longer_fits_the_flow_is_refused() {
        let flow = budget();
        let lost = FlowState {
            bot_id: bot(),
            node: "removed".into(),
            variables: BTreeMap::new(),
        };
        assert_eq!(resume(&flow, &lost, "hi", &asha), None);
        let not_a_question = FlowState {
            node: "hello".into(),
            ..lost
        };
        assert_eq!(resume(&flow, &not_a_question, "hi", &asha), None);
    }

    #[test]
    fn validation_finds_broken_references_unreachable_nodes_and_missing_else() {
        let flow: FlowDefinition = serde_json::from_value(json!({
            "start": "nowhere",
            "nodes": [
                {"id": "a", "type": "question", "text": "Yes or no?"},
                {"id": "a", "type": "message", "text": ""},
                {"id": "c", "type": "condition", "variable": "bad name"},
                {"id": "d", "type": "end"}
            ],
            "edges": [
                {"from": "a", "to": "d", "condition": {"type": "equals", "value": "yes"}},
                {"from": "c", "to": "ghost", "condition": {"type": "else"}},
                {"from": "d", "to": "a"},
                {"from": "c", "to": "d", "condition": {"type": "contains", "value": "?!"}}
            ]
        }))
        .unwrap();
        let errors = validate(&flow).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "nodes[1].id",
                "nodes[1].text",
                "nodes[2].variable",
                "start",
                "edges[1].to",
                "edges[3].condition.value",
                "nodes[0]",
                "nodes[1]",
                "nodes[3]",
                "edges",
            ]
        );
        assert!(errors[6].1.contains("else"), "{:?}", errors[6]);
    }

    #[test]
    fn a_loop_that_never_waits_is_refused_and_cannot_hang_a_step() {
        let flow: FlowDefinition = serde_json::from_value(json!({
            "start": "a",
            "nodes": [
                {"id": "a", "type": "message", "text": "ping"},
                {"id": "b", "type": "set_variable", "variable": "x", "value": "{{x}}1"}
            ],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]
        }))
        .unwrap();
        let errors = validate(&flow).unwrap_err();
        assert_eq!(
            errors,
            [(
                "edges".to_owned(),
                "a → b → a loops without waiting for a reply".to_owned()
            )]
        );
        let run = start(&flow, bot(), &asha);
        assert_eq!(run.end, FlowEnd::BudgetExhausted);
        assert_eq!(run.state, None);
        assert_eq!(run.messages.len(), STEP_BUDGET / 2);
    }

    #[test]
    fn a_dead_end_stops_the_flow() {
        let flow: FlowDefinition = serde_json::from_value(json!({
            "start": "a",
            "nodes": [{"id": "a", "type": "message", "text": "hi"}]
        }))
        .unwrap();
        let run = start(&flow, bot(), &asha);
        assert_eq!(run.end, FlowEnd::Broken);
        assert_eq!(texts(&run), ["hi"]);
    }

    fn arb_kind() -> impl Strategy<Value = NodeKind> {
        prop_oneof![
            Just(NodeKind::Message { text: "m".into() }),
            (any::<bool>(), 0usize..3).prop_map(|(variable, buttons)| NodeKind::Question {
                text: "q".into(),
                variable: variable.then(|| "answer".into()),
                buttons: (0..buttons).map(|b| format!("b{b}")).collect(),
            }),
            Just(NodeKind::Condition {
                variable: "answer".into()
            }),
            Just(NodeKind::SetVariable {
                variable: "answer".into(),
                value: "{{answer}}x".into()
            }),
            Just(NodeKind::Handoff { text: None }),
            Just(NodeKind::End {
                text: Some("bye".into())
            }),
        ]
    }

    fn arb_condition() -> impl Strategy<Value = EdgeCondition> {
        prop_oneof![
            Just(EdgeCondition::Any),
            Just(EdgeCondition::Else),
            "[bx]{1,2}".prop_map(|value| EdgeCondition::Equals { value }),
            "[bx]{1,2}".prop_map(|value| EdgeCondition::Contains { value }),
        ]
    }

    /// Any graph of up to 8 nodes, most of them invalid.
    fn arb_flow() -> impl Strategy<Value = FlowDefinition> {
        (1usize..8).prop_flat_map(|size| {
            (
                prop::collection::vec(arb_kind(), size),
                prop::collection::vec((0..size, 0..size + 1, arb_condition()), 0..16),
                0..size + 1,
            )
                .prop_map(|(kinds, edges, start)| FlowDefinition {
                    start: format!("n{start}"),
                    nodes: kinds
                        .into_iter()
                        .enumerate()
                        .map(|(id, kind)| FlowNode {
                            id: format!("n{id}"),
                            kind,
                        })
                        .collect(),
                    edges: edges
                        .into_iter()
                        .map(|(from, to, condition)| FlowEdge {
                            from: format!("n{from}"),
                            to: format!("n{to}"),
                            condition,
                        })
                        .collect(),
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the graph and the replies, every step ends, within the budget,
        /// either waiting at a question of the flow or with the flow over; a valid
        /// flow never runs out of budget nor into a dead end.
        #[test]
        fn stepping_always_terminates(
            flow in arb_flow(),
            replies in prop::collection::vec("[bx ]{0,3}", 0..8),
        ) {
            let valid = validate(&flow).is_ok();
            let mut run = start(&flow, bot(), &asha);
            let mut replies = replies.into_iter();
            loop {
                prop_assert!(run.messages.len() <= STEP_BUDGET);
                prop_assert_eq!(run.state.is_some(), run.end == FlowEnd::Waiting);
                if valid {
                    prop_assert!(
                        !matches!(run.end, FlowEnd::BudgetExhausted | FlowEnd::Broken),
                        "{:?}", run.end
                    );
                }
                let (Some(state), Some(reply)) = (&run.state, replies.next()) else { break };
                prop_assert!(flow.holds(state));
                match resume(&flow, state, &reply, &asha) {
                    Some(next) => run = next,
                    None => prop_assert!(false, "a state step returned did not fit its flow"),
                }
            }
        }
    }
}
