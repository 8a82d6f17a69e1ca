//! The capabilities a staff member or API key may hold (seed 001's permission table).

use std::collections::BTreeSet;
use std::fmt;

/// One capability from the catalogue, such as `leads:view`.
///
/// Only the catalogue's entries exist: a `Permission` can be named through its
/// constant or obtained by [`Permission::parse`], never made up.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(&'static str);

macro_rules! catalogue {
    ($($constant:ident = $name:literal),* $(,)?) => {
        impl Permission {
            $(pub const $constant: Permission = Permission($name);)*
            /// Every capability, in catalogue order.
            pub const ALL: &'static [Permission] = &[$(Permission::$constant),*];
        }
    };
}

catalogue! {
    ADMIN = "admin",
    WHATSAPP_CHAT_VIEW = "whatsapp_chat:view",
    WHATSAPP_BOT_VIEW = "whatsapp_bot:view",
    WHATSAPP_BOT_CREATE = "whatsapp_bot:create",
    WHATSAPP_BOT_EDIT = "whatsapp_bot:edit",
    WHATSAPP_BOT_DELETE = "whatsapp_bot:delete",
    WHATSAPP_TEMPLATE_VIEW = "whatsapp_template:view",
    WHATSAPP_TEMPLATE_LOAD = "whatsapp_template:load_template",
    WHATSAPP_CAMPAIGN_VIEW = "whatsapp_campaign:view",
    WHATSAPP_CAMPAIGN_CREATE = "whatsapp_campaign:create",
    WHATSAPP_CAMPAIGN_EDIT = "whatsapp_campaign:edit",
    WHATSAPP_CAMPAIGN_DELETE = "whatsapp_campaign:delete",
    WHATSAPP_NUMBERS_VIEW = "whatsapp_numbers:view",
    WHATSAPP_NUMBERS_EDIT = "whatsapp_numbers:edit",
    WHATSAPP_CONTACTS_VIEW = "whatsapp_contacts:view",
    WHATSAPP_CONTACTS_CREATE = "whatsapp_contacts:create",
    WHATSAPP_CONTACTS_EDIT = "whatsapp_contacts:edit",
    WHATSAPP_CONTACTS_DELETE = "whatsapp_contacts:delete",
    WHATSAPP_GROUPS_VIEW = "whatsapp_groups:view",
    WHATSAPP_GROUPS_CREATE = "whatsapp_groups:create",
    WHATSAPP_GROUPS_EDIT = "whatsapp_groups:edit",
    WHATSAPP_GROUPS_DELETE = "whatsapp_groups:delete",
    WHATSAPP_LOG_ACTIVITY_VIEW = "whatsapp_log_activity:view",
    WHATSAPP_LOG_ACTIVITY_CLEAR = "whatsapp_log_activity:clear_log",
    QUICKREPLIES_VIEW = "quickreplies:view",
    QUICKREPLIES_CREATE = "quickreplies:create",
    QUICKREPLIES_EDIT = "quickreplies:edit",
    QUICKREPLIES_DELETE = "quickreplies:delete",
    LEADS_VIEW = "leads:view",
    LEADS_CREATE = "leads:create",
    LEADS_EDIT = "leads:edit",
    LEADS_DELETE = "leads:delete",
    CONTACTS_VIEW = "contacts:view",
    CONTACTS_CREATE = "contacts:create",
    CONTACTS_EDIT = "contacts:edit",
    CONTACTS_DELETE = "contacts:delete",
    TICKETS_VIEW = "tickets:view",
    TICKETS_CREATE = "tickets:create",
    TICKETS_EDIT = "tickets:edit",
    TICKETS_DELETE = "tickets:delete",
    CRM_EVENTS_CREATE = "crm_events:create",
}

impl Permission {
    /// The catalogue entry with this exact name.
    pub fn parse(name: &str) -> Result<Self, UnknownPermission> {
        Self::ALL
            .iter()
            .copied()
            .find(|permission| permission.0 == name)
            .ok_or_else(|| UnknownPermission(name.to_owned()))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permission({})", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission `{0}`")]
pub struct UnknownPermission(pub String);

/// What one principal holds. `admin` allows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    /// Parses stored or submitted names; the first unknown one is the error.
    pub fn parse<I, S>(names: I) -> Result<Self, UnknownPermission>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        names
            .into_iter()
            .map(|name| Permission::parse(name.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn allows(&self, required: Permission) -> bool {
        self.0.contains(&Permission::ADMIN) || self.0.contains(&required)
    }

    pub fn is_admin(&self) -> bool {
        self.0.contains(&Permission::ADMIN)
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|p| p.as_str().to_owned()).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<T: IntoIterator<Item = Permission>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_name_parses_back_to_itself() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Ok(*permission));
        }
    }

    #[test]
    fn catalogue_names_are_unique() {
        let names: BTreeSet<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names.len(), Permission::ALL.len());
    }

    #[test]
    fn crm_resources_have_the_four_verbs() {
        for resource in [
            "leads",
            "contacts",
            "tickets",
            "whatsapp_bot",
            "quickreplies",
        ] {
            for verb in ["view", "create", "edit", "delete"] {
                assert!(Permission::parse(&format!("{resource}:{verb}")).is_ok());
            }
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        assert_eq!(
            PermissionSet::parse(["leads:view", "leads:fly"]),
            Err(UnknownPermission("leads:fly".into()))
        );
    }

    #[test]
    fn a_set_allows_what_it_holds_and_nothing_else() {
        let set = PermissionSet::parse(["leads:view"]).unwrap();
        assert!(set.allows(Permission::LEADS_VIEW));
        assert!(!set.allows(Permission::LEADS_EDIT));
        assert!(!set.is_admin());
    }

    #[test]
    fn admin_allows_everything() {
        let set = PermissionSet::parse(["admin"]).unwrap();
        assert!(Permission::ALL.iter().all(|p| set.allows(*p)));
    }
}
