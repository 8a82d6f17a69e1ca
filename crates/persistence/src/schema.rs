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
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_attempts (throttle_key) {
        throttle_key -> Text,
        attempts -> Int4,
        window_started_at -> Timestamptz,
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
        conversation_id -> Nullable<Uuid>,
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

diesel::table! {
    connections (id) {
        id -> Uuid,
        provider -> Text,
        name -> Text,
        base_url -> Nullable<Text>,
        credentials -> Bytea,
        is_healthy -> Bool,
        health_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    numbers (id) {
        id -> Uuid,
        connection_id -> Uuid,
        phone -> Text,
        phone_normalized -> Text,
        provider_number_id -> Nullable<Text>,
        is_default -> Bool,
        messages_per_second -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        daily_recipient_limit -> Nullable<Int4>,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Uuid,
        connection_id -> Uuid,
        provider -> Text,
        event_key -> Bytea,
        body -> Bytea,
        status -> Text,
        error -> Nullable<Text>,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    conversations (id) {
        id -> Uuid,
        number_id -> Uuid,
        customer_phone -> Nullable<Text>,
        profile_name -> Nullable<Text>,
        rel_type -> Text,
        rel_id -> Nullable<Uuid>,
        status -> Text,
        assigned_to -> Nullable<Uuid>,
        unread_count -> Int4,
        last_message_id -> Nullable<Uuid>,
        last_message_at -> Nullable<Timestamptz>,
        last_message_preview -> Nullable<Text>,
        session_expires_at -> Nullable<Timestamptz>,
        snooze_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        customer_user_id -> Nullable<Text>,
        customer_username -> Nullable<Text>,
        last_activity_at -> Timestamptz,
    }
}

diesel::table! {
    conversation_counts (id) {
        id -> Int8,
        number_id -> Uuid,
        rel_type -> Text,
        status -> Text,
        assigned_to -> Nullable<Uuid>,
        unread -> Bool,
        n -> Int8,
    }
}

diesel::table! {
    messages (id) {
        id -> Uuid,
        conversation_id -> Uuid,
        direction -> Text,
        kind -> Text,
        body -> Text,
        payload -> Jsonb,
        provider -> Text,
        provider_message_id -> Nullable<Text>,
        status -> Text,
        error -> Nullable<Jsonb>,
        sent_by -> Nullable<Text>,
        sent_at -> Timestamptz,
        context_message_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        send_started_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    message_media (message_id) {
        message_id -> Uuid,
        source -> Jsonb,
        mime_type -> Nullable<Text>,
        filename -> Nullable<Text>,
        sha256 -> Nullable<Text>,
        stored_key -> Nullable<Text>,
        size_bytes -> Nullable<Int8>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    message_status_events (id) {
        id -> Uuid,
        message_id -> Nullable<Uuid>,
        provider -> Text,
        provider_message_id -> Text,
        status -> Text,
        occurred_at -> Timestamptz,
        applied -> Bool,
        errors -> Jsonb,
        billing -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        connection_id -> Nullable<Uuid>,
        recipient -> Nullable<Text>,
    }
}

diesel::table! {
    message_provider_ids (connection_id, provider_message_id) {
        connection_id -> Uuid,
        provider_message_id -> Text,
        message_id -> Uuid,
        kind -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    templates (id) {
        id -> Uuid,
        connection_id -> Uuid,
        provider_template_id -> Nullable<Text>,
        name -> Text,
        language -> Text,
        category -> Nullable<Text>,
        status -> Text,
        components -> Jsonb,
        status_reason -> Nullable<Text>,
        synced_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        source -> Text,
        quality_score -> Nullable<Text>,
        quality_updated_at -> Nullable<Timestamptz>,
        locked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Bytea,
        response_status -> Nullable<Int4>,
        response_body -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    activity_log (id) {
        id -> Uuid,
        connection_id -> Nullable<Uuid>,
        provider -> Text,
        operation -> Text,
        method -> Text,
        path -> Text,
        status -> Nullable<Int4>,
        duration_ms -> Int4,
        request_body -> Nullable<Text>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        message_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        kind -> Text,
        payload -> Jsonb,
        unique_key -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        claim_token -> Nullable<Uuid>,
        ordering_key -> Nullable<Text>,
    }
}

diesel::joinable!(refresh_tokens -> staff (staff_id));
diesel::joinable!(api_keys -> staff (created_by));
diesel::joinable!(leads -> lead_statuses (status_id));
diesel::joinable!(leads -> lead_sources (source_id));
diesel::joinable!(leads -> staff (assigned_staff_id));
diesel::joinable!(lead_notes -> conversations (conversation_id));
diesel::joinable!(lead_notes -> leads (lead_id));
diesel::joinable!(numbers -> connections (connection_id));
diesel::joinable!(conversations -> numbers (number_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(message_status_events -> messages (message_id));
diesel::joinable!(message_media -> messages (message_id));
diesel::joinable!(templates -> connections (connection_id));

diesel::table! {
    event_relay (id) {
        id -> Int8,
        channel -> Text,
        payload -> Text,
    }
}

diesel::table! {
    number_send_slots (number_id) {
        number_id -> Uuid,
        next_slot -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    staff,
    refresh_tokens,
    api_keys,
    login_attempts,
    lead_statuses,
    lead_sources,
    leads,
    lead_notes,
    contacts,
    connections,
    numbers,
    webhook_events,
    conversations,
    messages,
    message_media,
    message_status_events,
    templates,
    idempotency_keys,
    activity_log,
    settings,
    jobs,
);

diesel::table! {
    tickets (id) {
        id -> Uuid,
        subject -> Text,
        description -> Nullable<Text>,
        status -> Text,
        priority -> Text,
        assigned_to -> Nullable<Uuid>,
        conversation_id -> Nullable<Uuid>,
        lead_id -> Nullable<Uuid>,
        contact_id -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    quick_replies (id) {
        id -> Uuid,
        shortcut -> Text,
        title -> Nullable<Text>,
        body -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(tickets -> staff (assigned_to));
diesel::joinable!(tickets -> conversations (conversation_id));
diesel::joinable!(tickets -> leads (lead_id));
diesel::joinable!(tickets -> contacts (contact_id));
diesel::joinable!(quick_replies -> staff (created_by));

// Only pairs with a new table: diesel rejects a pair declared twice, and the
// pairs among the tables above are declared in the list above.
diesel::allow_tables_to_appear_in_same_query!(tickets, quick_replies, staff);
diesel::allow_tables_to_appear_in_same_query!(tickets, conversations);
diesel::allow_tables_to_appear_in_same_query!(tickets, leads);
diesel::allow_tables_to_appear_in_same_query!(tickets, contacts);

diesel::table! {
    bots (id) {
        id -> Uuid,
        name -> Text,
        is_active -> Bool,
        priority -> Int4,
        definition -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    conversation_bots (conversation_id) {
        conversation_id -> Uuid,
        memory -> Jsonb,
        rating -> Nullable<Int2>,
        rated_at -> Nullable<Timestamptz>,
        ai_suggestion -> Nullable<Text>,
        ai_suggested_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(conversation_bots -> conversations (conversation_id));
diesel::allow_tables_to_appear_in_same_query!(bots, conversation_bots);
diesel::allow_tables_to_appear_in_same_query!(conversation_bots, conversations);

diesel::table! {
    provider_errors (id) {
        id -> Uuid,
        connection_id -> Uuid,
        number_id -> Nullable<Uuid>,
        code -> Text,
        title -> Text,
        details -> Nullable<Text>,
        raw -> Jsonb,
        occurred_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    marketing_consent (phone) {
        phone -> Text,
        state -> Text,
        reason -> Nullable<Text>,
        source -> Text,
        changed_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    consent_history (id) {
        id -> Uuid,
        phone -> Text,
        state -> Text,
        reason -> Nullable<Text>,
        source -> Text,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
        changed_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    whatsapp_contacts (id) {
        id -> Uuid,
        name -> Nullable<Text>,
        phone -> Text,
        phone_normalized -> Text,
        language -> Nullable<Text>,
        time_zone -> Text,
        labels -> Array<Text>,
        custom_fields -> Jsonb,
        opt_in_status -> Text,
        opt_in_source -> Nullable<Text>,
        opt_in_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    whatsapp_groups (id) {
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        member_count -> Int4,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    whatsapp_group_members (group_id, contact_id) {
        group_id -> Uuid,
        contact_id -> Uuid,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    segments (id) {
        id -> Uuid,
        name -> Text,
        target -> Text,
        filter -> Jsonb,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    blocklist (id) {
        id -> Uuid,
        phone -> Text,
        reason -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(whatsapp_group_members -> whatsapp_groups (group_id));
diesel::joinable!(whatsapp_group_members -> whatsapp_contacts (contact_id));
diesel::allow_tables_to_appear_in_same_query!(
    whatsapp_contacts,
    whatsapp_groups,
    whatsapp_group_members,
    marketing_consent,
    blocklist
);

diesel::joinable!(provider_errors -> connections (connection_id));
diesel::allow_tables_to_appear_in_same_query!(provider_errors, connections);

diesel::table! {
    contact_imports (id) {
        id -> Uuid,
        status -> Text,
        file_bytes -> Int8,
        mapping -> Jsonb,
        default_country -> Nullable<Text>,
        on_duplicate -> Text,
        label_separator -> Text,
        group_id -> Nullable<Uuid>,
        dry_run -> Bool,
        byte_offset -> Int8,
        next_row -> Int8,
        rows_done -> Int8,
        created -> Int8,
        updated -> Int8,
        skipped -> Int8,
        duplicates -> Int8,
        failed -> Int8,
        error_count -> Int8,
        failure -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    contact_import_chunks (import_id, seq) {
        import_id -> Uuid,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    contact_import_errors (id) {
        id -> Int8,
        import_id -> Uuid,
        row -> Int8,
        column -> Nullable<Text>,
        reason -> Text,
    }
}

diesel::table! {
    contact_import_phones (import_id, phone_normalized) {
        import_id -> Uuid,
        phone_normalized -> Text,
    }
}

diesel::joinable!(contact_import_chunks -> contact_imports (import_id));
diesel::joinable!(contact_import_errors -> contact_imports (import_id));
diesel::joinable!(contact_import_phones -> contact_imports (import_id));
diesel::allow_tables_to_appear_in_same_query!(
    contact_imports,
    contact_import_chunks,
    contact_import_errors,
    contact_import_phones
);

diesel::table! {
    campaigns (id) {
        id -> Uuid,
        name -> Text,
        status -> Text,
        pause_reason -> Nullable<Text>,
        pause_detail -> Nullable<Text>,
        audience -> Jsonb,
        number_id -> Uuid,
        template_name -> Text,
        template_language -> Text,
        parameters -> Jsonb,
        schedule -> Jsonb,
        quiet_hours -> Nullable<Jsonb>,
        next_run_at -> Nullable<Timestamptz>,
        runs_created -> Int4,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    campaign_runs (id) {
        id -> Uuid,
        campaign_id -> Uuid,
        occurrence -> Int4,
        scheduled_at -> Timestamptz,
        status -> Text,
        pause_reason -> Nullable<Text>,
        pause_detail -> Nullable<Text>,
        duplicates -> Int4,
        started_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        dispatch_generation -> Int4,
    }
}

diesel::table! {
    campaign_recipients (id) {
        id -> Int8,
        run_id -> Uuid,
        number_id -> Uuid,
        phone -> Nullable<Text>,
        rel_type -> Text,
        rel_id -> Nullable<Uuid>,
        name -> Nullable<Text>,
        time_zone -> Nullable<Text>,
        record -> Jsonb,
        status -> Text,
        reason -> Nullable<Text>,
        detail -> Nullable<Text>,
        due_at -> Timestamptz,
        message_id -> Nullable<Uuid>,
        queued_at -> Nullable<Timestamptz>,
        retries -> Int4,
    }
}

diesel::joinable!(campaigns -> numbers (number_id));
diesel::joinable!(campaign_runs -> campaigns (campaign_id));
diesel::joinable!(campaign_recipients -> campaign_runs (run_id));
diesel::joinable!(campaign_recipients -> messages (message_id));
diesel::allow_tables_to_appear_in_same_query!(campaigns, campaign_runs, campaign_recipients);
diesel::allow_tables_to_appear_in_same_query!(campaigns, numbers);
diesel::allow_tables_to_appear_in_same_query!(campaign_recipients, messages);

diesel::table! {
    crm_events (id) {
        id -> Uuid,
        source -> Text,
        key -> Text,
        #[sql_name = "type"]
        kind -> Text,
        occurred_at -> Timestamptz,
        data -> Json,
        subject -> Nullable<Text>,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_mappings (id) {
        id -> Uuid,
        name -> Text,
        event_type -> Text,
        number_id -> Uuid,
        template_name -> Text,
        template_language -> Text,
        send_to -> Jsonb,
        parameters -> Jsonb,
        condition -> Nullable<Jsonb>,
        delay_minutes -> Int4,
        reminder -> Nullable<Jsonb>,
        active -> Bool,
        problem_code -> Nullable<Text>,
        problem_detail -> Nullable<Text>,
        flagged_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        event_id -> Uuid,
        mapping_id -> Nullable<Uuid>,
        event_type -> Text,
        subject -> Nullable<Text>,
        phone -> Nullable<Text>,
        parameters -> Nullable<Jsonb>,
        message_id -> Nullable<Uuid>,
        outcome -> Text,
        reason -> Nullable<Text>,
        detail -> Nullable<Text>,
        send_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(notification_mappings -> numbers (number_id));
diesel::joinable!(notifications -> crm_events (event_id));
diesel::joinable!(notifications -> notification_mappings (mapping_id));
diesel::joinable!(notifications -> messages (message_id));
diesel::allow_tables_to_appear_in_same_query!(crm_events, notification_mappings, notifications);
diesel::allow_tables_to_appear_in_same_query!(notification_mappings, numbers);
diesel::allow_tables_to_appear_in_same_query!(notifications, messages);
diesel::allow_tables_to_appear_in_same_query!(crm_events, messages);

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        enabled -> Bool,
        allow_private_targets -> Bool,
        secret -> Bytea,
        previous_secret -> Nullable<Bytea>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        consecutive_failures -> Int4,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        endpoint_id -> Uuid,
        event_type -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Uuid,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        duration_ms -> Int4,
        error -> Nullable<Text>,
        response_body -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts
);
