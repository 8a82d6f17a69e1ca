//! The diesel view of the tables in `migrations/`; kept in step by hand.

diesel::table! {
    staff (id) {
        id -> Uuid,
        name -> Text,
        email -> Text,
        phone -> Nullable<Text>,
        phone_normalized -> Nullable<Text>,
        password_hash -> Text,
        is_active -> Bool,
        permissions -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        family_id -> Uuid,
        staff_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        secret_hash -> Bytea,
        permissions -> Array<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        throttle_key -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    lead_statuses (id) {
        id -> Uuid,
        name -> Text,
        position -> Int4,
        color -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    lead_sources (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    leads (id) {
        id -> Uuid,
        name -> Text,
        phone -> Nullable<Text>,
        phone_normalized -> Nullable<Text>,
        email -> Nullable<Text>,
        status_id -> Nullable<Uuid>,
        source_id -> Nullable<Uuid>,
        assigned_staff_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    lead_notes (id) {
        id -> Uuid,
        lead_id -> Uuid,
        body -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        name -> Text,
        phone -> Nullable<Text>,
        phone_normalized -> Nullable<Text>,
        email -> Nullable<Text>,
        company -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(refresh_tokens -> staff (staff_id));
diesel::joinable!(api_keys -> staff (created_by));
diesel::joinable!(leads -> lead_statuses (status_id));
diesel::joinable!(leads -> lead_sources (source_id));
diesel::joinable!(leads -> staff (assigned_staff_id));
diesel::joinable!(lead_notes -> leads (lead_id));

diesel::allow_tables_to_appear_in_same_query!(
    staff,
    refresh_tokens,
    api_keys,
    login_failures,
    lead_statuses,
    lead_sources,
    leads,
    lead_notes,
    contacts,
);
