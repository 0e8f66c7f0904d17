namespace FleetAspire.Data.Migrations;

/// <summary>
/// The dual-write function as <c>Expand_DualWriteIndexPlans</c> deploys it (and <c>Expand_DirtyRowHandling</c>, <c>Expand_DualWriteFunction</c> before it), frozen: a migration must not change
/// behaviour when live code changes, and must compile the day <c>MachineTransition/</c> is deleted. Generated from
/// <c>MachineSync.Definition</c> and <c>MachineSync.Drop</c>; a test pins the deployed bodies to the live definition,
/// so a change there needs a new migration that re-creates them.
/// </summary>
internal static class DualWriteFunctionSql
{
    public const string Definition = """
CREATE OR REPLACE FUNCTION fleet_sync_own_transaction() RETURNS void LANGUAGE plpgsql SET enable_seqscan = off AS $fleet_sync$
DECLARE
    changed text[];
    vanished boolean;
    touched bigint;
BEGIN
    SELECT array_agg(DISTINCT entity), coalesce(bool_or(old_machine_id IS NOT NULL OR (entity = 'custom_machines' AND op = 'D')), false)
    INTO changed, vanished
    FROM legacy_changes WHERE txid = txid_current();
    IF changed IS NULL THEN
        RETURN;
    END IF;

    IF 'parked_machines' = ANY(changed) THEN
WITH src AS (SELECT * FROM parked_machines WHERE id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'parked_machines') FOR UPDATE),
judged AS (
    SELECT s.*, CASE
        WHEN s.machine_id IS NULL THEN 'pending-provision'
        WHEN coalesce(s.ipv4, '') = '' AND s.status <> 'ready' THEN NULL
        WHEN NOT coalesce(s.ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false) THEN 'invalid-ipv4'
        WHEN coalesce(s.shared_key, '') = '' THEN 'missing-shared-key'
    END AS class
    FROM src s),
valid AS (SELECT * FROM judged WHERE class IS NULL),
upserted AS (
    INSERT INTO machines (id, type, hetzner_machine_id, name, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_name, coalesce(ipv4, ''), shared_key, 8911,
           CASE status WHEN 'ready' THEN 'ready' ELSE 'launching' END, created_at, updated_at, machine_id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key,
        status = CASE WHEN machines.status = 'in_use' THEN machines.status ELSE EXCLUDED.status END,
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT class, 'parked_machines', id, CASE class
            WHEN 'pending-provision' THEN 'no provider server id (status ' || coalesce(status, 'null') || ')'
            WHEN 'invalid-ipv4' THEN 'ipv4 ' || coalesce(quote_literal(ipv4), 'null') || ' is not a dotted quad'
            ELSE 'shared_key is empty' END
    FROM judged WHERE class IS NOT NULL
    UNION ALL SELECT 'parked-and-held', 'parked_machines', v.id, 'provider id ' || v.machine_id || ' is held by an agent'
    FROM valid v WHERE (SELECT count(*) FROM agents a WHERE a.machine_id = v.machine_id AND coalesce(a.machine_type, '') = 'hetzner') > 0),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'parked_machines' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF 'agents' = ANY(changed) THEN
WITH src AS (SELECT ctid AS row_ctid, * FROM agents WHERE id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'agents') FOR UPDATE),
judged AS (
    -- Scalar subqueries, not EXISTS: they probe the index per batch row, where a semi-join would hash the
    -- whole table on every batch.
    SELECT s.*, CASE
        WHEN s.machine_id IS NULL THEN
            CASE WHEN coalesce(s.machine_type, s.machine_ipv4, s.machine_shared_key) IS NOT NULL THEN 'stray-machine-fields' END
        WHEN s.machine_type IS NULL THEN 'missing-type'
        WHEN s.machine_type = 'custom' THEN CASE
            WHEN (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id) = 0 THEN 'dangling-custom-machine'
            WHEN (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id AND c.current_agent_id = s.id) = 0
                THEN 'custom-not-assigned-back' END
        WHEN s.machine_type <> 'hetzner' THEN 'unknown-type'
        WHEN (SELECT count(*) FROM agents o WHERE o.machine_id = s.machine_id AND coalesce(o.machine_type, '') = 'hetzner') > 1
            THEN 'duplicate-provider-id'
        WHEN NOT coalesce(s.machine_ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false) THEN 'invalid-ipv4'
        WHEN coalesce(s.machine_shared_key, '') = '' THEN 'missing-shared-key'
    END AS class
    FROM src s),
valid AS (SELECT * FROM judged WHERE class IS NULL AND machine_type = 'hetzner'),
upserted AS (
    INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_ipv4, machine_shared_key, 8911, 'in_use',
           updated_at, updated_at, machine_id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key, status = 'in_use',
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
linked AS (
    -- Links valid holders and clears agents without a machine (a release since the copy) in one pass over the
    -- batch's locked rows by ctid (stable while locked). Driven any other way the planner may walk the
    -- machine_ref index — every linked agent once per batch (measured: 0.3 s per batch at 70% done).
    UPDATE agents a SET machine_ref = t.ref
    FROM (SELECT row_ctid, fleet_machine_id('hetzner', machine_id) AS ref FROM valid
          UNION ALL SELECT row_ctid, NULL FROM src WHERE machine_id IS NULL) t
    WHERE a.ctid = t.row_ctid AND a.machine_ref IS DISTINCT FROM t.ref
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT class, 'agents', id, CASE class
            WHEN 'stray-machine-fields' THEN 'no machine_id, but machine_type/ipv4/shared_key set'
            WHEN 'missing-type' THEN 'machine_id set but machine_type is null'
            WHEN 'unknown-type' THEN 'machine_type ' || quote_literal(machine_type) || ' is neither hetzner nor custom'
            WHEN 'dangling-custom-machine' THEN 'custom machine ' || machine_id || ' does not exist'
            WHEN 'custom-not-assigned-back' THEN 'custom machine ' || machine_id || ' is not assigned to this agent'
            WHEN 'duplicate-provider-id' THEN 'provider id ' || machine_id || ' is held by another agent too'
            WHEN 'invalid-ipv4' THEN 'machine_ipv4 ' || coalesce(quote_literal(machine_ipv4), 'null') || ' is not a dotted quad'
            ELSE 'pool machine ' || machine_id || ' has no shared key' END
    FROM judged WHERE class IS NOT NULL
    -- Pool servers have addresses of their own; custom machines on one host with different ports do not count.
    UNION ALL SELECT 'duplicate-ipv4', 'agents', v.id, 'ipv4 ' || v.machine_ipv4 || ' is used by another pool server too'
        FROM valid v
        WHERE (SELECT count(*) FROM agents o WHERE o.machine_ipv4 = v.machine_ipv4 AND coalesce(o.machine_type, '') = 'hetzner') > 1),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'agents' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF 'custom_machines' = ANY(changed) THEN
WITH src AS (SELECT * FROM custom_machines WHERE id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'custom_machines') FOR UPDATE),
judged AS (
    SELECT s.*, CASE
        WHEN NOT coalesce(s.ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false) THEN 'invalid-ipv4'
        WHEN s.port NOT BETWEEN 1 AND 65535 THEN 'invalid-port'
        WHEN coalesce(s.shared_key, '') = '' THEN 'missing-shared-key'
    END AS class
    FROM src s),
valid AS (SELECT * FROM judged WHERE class IS NULL),
upserted AS (
    INSERT INTO machines (id, type, ipv4, shared_key, port, status, user_id, os, arch, cpu_count, memory_gb, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('custom', id), 'custom', ipv4, shared_key, port,
           CASE WHEN current_agent_id IS NULL THEN 'offline' ELSE 'in_use' END, user_id, os, arch, cpu_count, memory_gb,
           created_at, updated_at, id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key, port = EXCLUDED.port,
        status = EXCLUDED.status, user_id = EXCLUDED.user_id, os = EXCLUDED.os, arch = EXCLUDED.arch,
        cpu_count = EXCLUDED.cpu_count, memory_gb = EXCLUDED.memory_gb, last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
holder AS (
    SELECT v.id AS machine_id, a.id AS agent_id,
           (a.machine_type = 'custom' AND a.machine_id = v.id AND a.machine_ipv4 = v.ipv4 AND a.machine_shared_key = v.shared_key) AS consistent
    FROM valid v JOIN agents a ON a.id = v.current_agent_id),
linked AS (
    UPDATE agents a SET machine_ref = fleet_machine_id('custom', h.machine_id)
    FROM holder h WHERE a.id = h.agent_id AND h.consistent AND a.machine_ref IS DISTINCT FROM fleet_machine_id('custom', h.machine_id)
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT class, 'custom_machines', id, CASE class
            WHEN 'invalid-ipv4' THEN 'ipv4 ' || coalesce(quote_literal(ipv4), 'null') || ' is not a dotted quad'
            WHEN 'invalid-port' THEN 'port ' || port || ' is not between 1 and 65535'
            ELSE 'shared_key is empty' END
    FROM judged WHERE class IS NOT NULL
    UNION ALL SELECT 'dangling-current-agent', 'custom_machines', v.id, 'current_agent_id ' || v.current_agent_id || ' names no agent'
        FROM valid v WHERE v.current_agent_id IS NOT NULL AND (SELECT count(*) FROM agents a WHERE a.id = v.current_agent_id) = 0
    UNION ALL SELECT 'agent-fields-differ', 'custom_machines', h.machine_id, 'agent ' || h.agent_id || ' holds different machine fields'
        FROM holder h WHERE NOT h.consistent),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'custom_machines' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF 'machine_snapshots' = ANY(changed) OR 'machine_health_checks' = ANY(changed) THEN
    IF EXISTS (SELECT 1 FROM (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) c(machine_id)
        WHERE (SELECT count(*) FROM machines m
               WHERE m.id IN (fleet_machine_id('hetzner', c.machine_id), fleet_machine_id('custom', c.machine_id))) = 0) THEN
WITH src AS (SELECT * FROM parked_machines WHERE machine_id IN (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) FOR UPDATE),
judged AS (
    SELECT s.*, CASE
        WHEN s.machine_id IS NULL THEN 'pending-provision'
        WHEN coalesce(s.ipv4, '') = '' AND s.status <> 'ready' THEN NULL
        WHEN NOT coalesce(s.ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false) THEN 'invalid-ipv4'
        WHEN coalesce(s.shared_key, '') = '' THEN 'missing-shared-key'
    END AS class
    FROM src s),
valid AS (SELECT * FROM judged WHERE class IS NULL),
upserted AS (
    INSERT INTO machines (id, type, hetzner_machine_id, name, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_name, coalesce(ipv4, ''), shared_key, 8911,
           CASE status WHEN 'ready' THEN 'ready' ELSE 'launching' END, created_at, updated_at, machine_id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key,
        status = CASE WHEN machines.status = 'in_use' THEN machines.status ELSE EXCLUDED.status END,
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT class, 'parked_machines', id, CASE class
            WHEN 'pending-provision' THEN 'no provider server id (status ' || coalesce(status, 'null') || ')'
            WHEN 'invalid-ipv4' THEN 'ipv4 ' || coalesce(quote_literal(ipv4), 'null') || ' is not a dotted quad'
            ELSE 'shared_key is empty' END
    FROM judged WHERE class IS NOT NULL
    UNION ALL SELECT 'parked-and-held', 'parked_machines', v.id, 'provider id ' || v.machine_id || ' is held by an agent'
    FROM valid v WHERE (SELECT count(*) FROM agents a WHERE a.machine_id = v.machine_id AND coalesce(a.machine_type, '') = 'hetzner') > 0),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'parked_machines' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
WITH src AS (SELECT ctid AS row_ctid, * FROM agents WHERE machine_id IN (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) FOR UPDATE),
judged AS (
    -- Scalar subqueries, not EXISTS: they probe the index per batch row, where a semi-join would hash the
    -- whole table on every batch.
    SELECT s.*, CASE
        WHEN s.machine_id IS NULL THEN
            CASE WHEN coalesce(s.machine_type, s.machine_ipv4, s.machine_shared_key) IS NOT NULL THEN 'stray-machine-fields' END
        WHEN s.machine_type IS NULL THEN 'missing-type'
        WHEN s.machine_type = 'custom' THEN CASE
            WHEN (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id) = 0 THEN 'dangling-custom-machine'
            WHEN (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id AND c.current_agent_id = s.id) = 0
                THEN 'custom-not-assigned-back' END
        WHEN s.machine_type <> 'hetzner' THEN 'unknown-type'
        WHEN (SELECT count(*) FROM agents o WHERE o.machine_id = s.machine_id AND coalesce(o.machine_type, '') = 'hetzner') > 1
            THEN 'duplicate-provider-id'
        WHEN NOT coalesce(s.machine_ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false) THEN 'invalid-ipv4'
        WHEN coalesce(s.machine_shared_key, '') = '' THEN 'missing-shared-key'
    END AS class
    FROM src s),
valid AS (SELECT * FROM judged WHERE class IS NULL AND machine_type = 'hetzner'),
upserted AS (
    INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_ipv4, machine_shared_key, 8911, 'in_use',
           updated_at, updated_at, machine_id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key, status = 'in_use',
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
linked AS (
    -- Links valid holders and clears agents without a machine (a release since the copy) in one pass over the
    -- batch's locked rows by ctid (stable while locked). Driven any other way the planner may walk the
    -- machine_ref index — every linked agent once per batch (measured: 0.3 s per batch at 70% done).
    UPDATE agents a SET machine_ref = t.ref
    FROM (SELECT row_ctid, fleet_machine_id('hetzner', machine_id) AS ref FROM valid
          UNION ALL SELECT row_ctid, NULL FROM src WHERE machine_id IS NULL) t
    WHERE a.ctid = t.row_ctid AND a.machine_ref IS DISTINCT FROM t.ref
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT class, 'agents', id, CASE class
            WHEN 'stray-machine-fields' THEN 'no machine_id, but machine_type/ipv4/shared_key set'
            WHEN 'missing-type' THEN 'machine_id set but machine_type is null'
            WHEN 'unknown-type' THEN 'machine_type ' || quote_literal(machine_type) || ' is neither hetzner nor custom'
            WHEN 'dangling-custom-machine' THEN 'custom machine ' || machine_id || ' does not exist'
            WHEN 'custom-not-assigned-back' THEN 'custom machine ' || machine_id || ' is not assigned to this agent'
            WHEN 'duplicate-provider-id' THEN 'provider id ' || machine_id || ' is held by another agent too'
            WHEN 'invalid-ipv4' THEN 'machine_ipv4 ' || coalesce(quote_literal(machine_ipv4), 'null') || ' is not a dotted quad'
            ELSE 'pool machine ' || machine_id || ' has no shared key' END
    FROM judged WHERE class IS NOT NULL
    -- Pool servers have addresses of their own; custom machines on one host with different ports do not count.
    UNION ALL SELECT 'duplicate-ipv4', 'agents', v.id, 'ipv4 ' || v.machine_ipv4 || ' is used by another pool server too'
        FROM valid v
        WHERE (SELECT count(*) FROM agents o WHERE o.machine_ipv4 = v.machine_ipv4 AND coalesce(o.machine_type, '') = 'hetzner') > 1),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'agents' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
WITH src AS (SELECT * FROM custom_machines WHERE id IN (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) FOR UPDATE),
judged AS (
    SELECT s.*, CASE
        WHEN NOT coalesce(s.ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false) THEN 'invalid-ipv4'
        WHEN s.port NOT BETWEEN 1 AND 65535 THEN 'invalid-port'
        WHEN coalesce(s.shared_key, '') = '' THEN 'missing-shared-key'
    END AS class
    FROM src s),
valid AS (SELECT * FROM judged WHERE class IS NULL),
upserted AS (
    INSERT INTO machines (id, type, ipv4, shared_key, port, status, user_id, os, arch, cpu_count, memory_gb, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('custom', id), 'custom', ipv4, shared_key, port,
           CASE WHEN current_agent_id IS NULL THEN 'offline' ELSE 'in_use' END, user_id, os, arch, cpu_count, memory_gb,
           created_at, updated_at, id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key, port = EXCLUDED.port,
        status = EXCLUDED.status, user_id = EXCLUDED.user_id, os = EXCLUDED.os, arch = EXCLUDED.arch,
        cpu_count = EXCLUDED.cpu_count, memory_gb = EXCLUDED.memory_gb, last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
holder AS (
    SELECT v.id AS machine_id, a.id AS agent_id,
           (a.machine_type = 'custom' AND a.machine_id = v.id AND a.machine_ipv4 = v.ipv4 AND a.machine_shared_key = v.shared_key) AS consistent
    FROM valid v JOIN agents a ON a.id = v.current_agent_id),
linked AS (
    UPDATE agents a SET machine_ref = fleet_machine_id('custom', h.machine_id)
    FROM holder h WHERE a.id = h.agent_id AND h.consistent AND a.machine_ref IS DISTINCT FROM fleet_machine_id('custom', h.machine_id)
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT class, 'custom_machines', id, CASE class
            WHEN 'invalid-ipv4' THEN 'ipv4 ' || coalesce(quote_literal(ipv4), 'null') || ' is not a dotted quad'
            WHEN 'invalid-port' THEN 'port ' || port || ' is not between 1 and 65535'
            ELSE 'shared_key is empty' END
    FROM judged WHERE class IS NOT NULL
    UNION ALL SELECT 'dangling-current-agent', 'custom_machines', v.id, 'current_agent_id ' || v.current_agent_id || ' names no agent'
        FROM valid v WHERE v.current_agent_id IS NOT NULL AND (SELECT count(*) FROM agents a WHERE a.id = v.current_agent_id) = 0
    UNION ALL SELECT 'agent-fields-differ', 'custom_machines', h.machine_id, 'agent ' || h.agent_id || ' holds different machine fields'
        FROM holder h WHERE NOT h.consistent),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'custom_machines' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    END IF;

    IF 'machine_snapshots' = ANY(changed) THEN
WITH src AS (SELECT ctid, id, machine_id FROM machine_snapshots WHERE id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots') FOR UPDATE),
target AS (
    SELECT s.ctid, s.id, m.id AS machine_ref FROM src s
    JOIN machines m ON m.id IN (fleet_machine_id('hetzner', s.machine_id), fleet_machine_id('custom', s.machine_id))),
linked AS (
    -- By the locked row's ctid (stable while the lock is held): a TID scan per row, where a join on id lets the
    -- planner merge-join from the start of the table on every batch.
    UPDATE machine_snapshots x SET machine_ref = t.machine_ref FROM target t
    WHERE x.ctid = t.ctid AND x.machine_ref IS DISTINCT FROM t.machine_ref RETURNING 1),
unlinkable AS (
    SELECT s.id, s.machine_id,
           (SELECT count(*) FROM parked_machines p WHERE p.machine_id = s.machine_id)
           + (SELECT count(*) FROM agents a WHERE a.machine_id = s.machine_id)
           + (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id) > 0 AS in_legacy
    FROM src s WHERE NOT EXISTS (SELECT 1 FROM target t WHERE t.id = s.id)),
found (class, entity, entity_id, detail) AS (
    SELECT CASE WHEN u.in_legacy THEN 'child-of-dirty-machine' ELSE 'orphan-snapshot' END, 'machine_snapshots', u.id,
           'machine id ' || u.machine_id || CASE WHEN u.in_legacy THEN ' is a dirty legacy row left out of Machine' ELSE ' exists in no model' END
    FROM unlinkable u),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'machine_snapshots' AND d.quarantined AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF 'machine_health_checks' = ANY(changed) THEN
WITH src AS (SELECT ctid, id, machine_id FROM machine_health_checks WHERE id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks') FOR UPDATE),
target AS (
    SELECT s.ctid, s.id, m.id AS machine_ref FROM src s
    JOIN machines m ON m.id IN (fleet_machine_id('hetzner', s.machine_id), fleet_machine_id('custom', s.machine_id))),
linked AS (
    -- By the locked row's ctid (stable while the lock is held): a TID scan per row, where a join on id lets the
    -- planner merge-join from the start of the table on every batch.
    UPDATE machine_health_checks x SET machine_ref = t.machine_ref FROM target t
    WHERE x.ctid = t.ctid AND x.machine_ref IS DISTINCT FROM t.machine_ref RETURNING 1),
unlinkable AS (
    SELECT s.id, s.machine_id,
           (SELECT count(*) FROM parked_machines p WHERE p.machine_id = s.machine_id)
           + (SELECT count(*) FROM agents a WHERE a.machine_id = s.machine_id)
           + (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id) > 0 AS in_legacy
    FROM src s WHERE NOT EXISTS (SELECT 1 FROM target t WHERE t.id = s.id)),
found (class, entity, entity_id, detail) AS (
    SELECT CASE WHEN u.in_legacy THEN 'child-of-dirty-machine' ELSE 'orphan-health-check' END, 'machine_health_checks', u.id::text,
           'machine id ' || u.machine_id || CASE WHEN u.in_legacy THEN ' is a dirty legacy row left out of Machine' ELSE ' exists in no model' END
    FROM unlinkable u),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
        resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                           THEN migration_dirty_rows.resolved_at END),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
    WHERE d.entity = 'machine_health_checks' AND d.quarantined AND d.entity_id IN (SELECT s.id::text FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF vanished THEN
WITH candidate AS MATERIALIZED (
    -- By the derived id (the primary key), not legacy_id = ANY(…): no index leads with legacy_id.
    SELECT m.id, m.type, m.legacy_id FROM machines m
    WHERE m.id IN (SELECT fleet_machine_id(t.type, x.legacy_id)
                   FROM unnest(ARRAY(SELECT coalesce(old_machine_id, CASE WHEN entity = 'custom_machines' THEN entity_id END)
      FROM legacy_changes WHERE txid = txid_current() AND (old_machine_id IS NOT NULL OR (entity = 'custom_machines' AND op = 'D')))) x(legacy_id), (VALUES ('hetzner'), ('custom')) t(type))
), gone AS MATERIALIZED (
    -- Checked on the candidates only, by scalar counts (index probes): as a filter of the machines scan, or as
    -- NOT EXISTS the planner may hash over every hetzner agent, it costs more the larger the fleet.
    SELECT c.id FROM candidate c
    WHERE CASE c.type
            WHEN 'hetzner' THEN (SELECT count(*) FROM parked_machines p WHERE p.machine_id = c.legacy_id) = 0
                            AND (SELECT count(*) FROM agents a WHERE a.machine_id = c.legacy_id AND coalesce(a.machine_type, '') = 'hetzner') = 0
            ELSE (SELECT count(*) FROM custom_machines x WHERE x.id = c.legacy_id) = 0
          END
)
DELETE FROM machines m USING gone g WHERE m.id = g.id;
    END IF;

END
$fleet_sync$;
CREATE OR REPLACE FUNCTION fleet_dual_write_at_commit() RETURNS trigger LANGUAGE plpgsql AS $fleet_sync$
BEGIN
    IF current_setting('fleet.dual_write', true) = 'on' AND current_setting('fleet.synced', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('fleet.synced', 'on', true);
        PERFORM fleet_sync_own_transaction();
    END IF;
    RETURN NULL;
END
$fleet_sync$;
DROP TRIGGER IF EXISTS dual_write_at_commit ON legacy_changes;
CREATE CONSTRAINT TRIGGER dual_write_at_commit AFTER INSERT ON legacy_changes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fleet_dual_write_at_commit();
""";

    public const string Drop = """
DROP TRIGGER IF EXISTS dual_write_at_commit ON legacy_changes;
DROP FUNCTION IF EXISTS fleet_dual_write_at_commit();
DROP FUNCTION IF EXISTS fleet_sync_own_transaction();
""";
}
