namespace FleetAspire.Data.Migrations;

/// <summary>
/// The dual-write function as <c>Expand_DualWriteFunction</c> deployed it, frozen: a migration must not change
/// behaviour when live code changes, and must compile the day <c>MachineTransition/</c> is deleted. Generated from
/// <c>MachineSync.Definition</c> and <c>MachineSync.Drop</c>; a test pins the deployed bodies to the live definition,
/// so a change there needs a new migration that re-creates them.
/// </summary>
internal static class DualWriteFunctionSql
{
    public const string Definition = """
CREATE OR REPLACE FUNCTION fleet_sync_own_transaction() RETURNS void LANGUAGE plpgsql AS $fleet_sync$
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
valid AS (SELECT * FROM src WHERE machine_id IS NOT NULL AND ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'),
upserted AS (
    INSERT INTO machines (id, type, hetzner_machine_id, name, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_name, ipv4, shared_key, 8911,
           CASE status WHEN 'ready' THEN 'ready' ELSE 'launching' END, created_at, updated_at, machine_id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key,
        status = CASE WHEN machines.status = 'in_use' THEN machines.status ELSE EXCLUDED.status END,
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT 'invalid-ipv4', 'parked_machines', id, 'ipv4 is not a dotted quad'
    FROM src WHERE machine_id IS NOT NULL AND ipv4 IS NOT NULL AND NOT ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'parked_machines' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF 'agents' = ANY(changed) THEN
WITH src AS (SELECT ctid AS row_ctid, * FROM agents WHERE id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'agents') FOR UPDATE),
held AS (
    -- Scalar subqueries, not EXISTS: they probe the index per batch row, where a semi-join would hash the
    -- whole table on every batch.
    SELECT s.*, (SELECT count(*) FROM agents o WHERE o.machine_id = s.machine_id AND o.machine_type = 'hetzner') > 1 AS shared
    FROM src s WHERE s.machine_type = 'hetzner' AND s.machine_id IS NOT NULL),
valid AS (SELECT * FROM held WHERE NOT shared AND machine_ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$' AND machine_shared_key IS NOT NULL),
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
    SELECT 'missing-type', 'agents', id, 'machine_id set but machine_type is null' FROM src WHERE machine_id IS NOT NULL AND machine_type IS NULL
    UNION ALL SELECT 'duplicate-provider-id', 'agents', id, 'provider id ' || machine_id || ' is held by another agent too' FROM held WHERE shared
    UNION ALL SELECT 'invalid-ipv4', 'agents', id, 'machine_ipv4 is not a dotted quad' FROM held WHERE NOT shared AND NOT coalesce(machine_ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false)
    UNION ALL SELECT 'duplicate-ipv4', 'agents', s.id, 'ipv4 ' || s.machine_ipv4 || ' is used by another agent too'
        FROM src s WHERE s.machine_ipv4 IS NOT NULL
          AND (SELECT count(*) FROM agents o WHERE o.machine_ipv4 = s.machine_ipv4) > 1),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'agents' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF 'custom_machines' = ANY(changed) THEN
WITH src AS (SELECT * FROM custom_machines WHERE id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'custom_machines') FOR UPDATE),
valid AS (SELECT * FROM src WHERE ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'),
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
    SELECT 'invalid-ipv4', 'custom_machines', id, 'ipv4 is not a dotted quad' FROM src WHERE NOT ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
    UNION ALL SELECT 'dangling-current-agent', 'custom_machines', v.id, 'current_agent_id ' || v.current_agent_id || ' names no agent'
        FROM valid v WHERE v.current_agent_id IS NOT NULL AND (SELECT count(*) FROM agents a WHERE a.id = v.current_agent_id) = 0
    UNION ALL SELECT 'agent-fields-differ', 'custom_machines', h.machine_id, 'agent ' || h.agent_id || ' holds different machine fields'
        FROM holder h WHERE NOT h.consistent),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'custom_machines' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
    END IF;

    IF ('machine_snapshots' = ANY(changed) OR 'machine_health_checks' = ANY(changed))
AND EXISTS (SELECT 1 FROM (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) c(machine_id)
            WHERE (SELECT count(*) FROM machines m
                   WHERE m.id IN (fleet_machine_id('hetzner', c.machine_id), fleet_machine_id('custom', c.machine_id))) = 0) THEN
WITH src AS (SELECT * FROM parked_machines WHERE machine_id IN (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) FOR UPDATE),
valid AS (SELECT * FROM src WHERE machine_id IS NOT NULL AND ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'),
upserted AS (
    INSERT INTO machines (id, type, hetzner_machine_id, name, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
    SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_name, ipv4, shared_key, 8911,
           CASE status WHEN 'ready' THEN 'ready' ELSE 'launching' END, created_at, updated_at, machine_id
    FROM valid
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, ipv4 = EXCLUDED.ipv4, shared_key = EXCLUDED.shared_key,
        status = CASE WHEN machines.status = 'in_use' THEN machines.status ELSE EXCLUDED.status END,
        last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1),
found (class, entity, entity_id, detail) AS (
    SELECT 'invalid-ipv4', 'parked_machines', id, 'ipv4 is not a dotted quad'
    FROM src WHERE machine_id IS NOT NULL AND ipv4 IS NOT NULL AND NOT ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'parked_machines' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
WITH src AS (SELECT ctid AS row_ctid, * FROM agents WHERE machine_id IN (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) FOR UPDATE),
held AS (
    -- Scalar subqueries, not EXISTS: they probe the index per batch row, where a semi-join would hash the
    -- whole table on every batch.
    SELECT s.*, (SELECT count(*) FROM agents o WHERE o.machine_id = s.machine_id AND o.machine_type = 'hetzner') > 1 AS shared
    FROM src s WHERE s.machine_type = 'hetzner' AND s.machine_id IS NOT NULL),
valid AS (SELECT * FROM held WHERE NOT shared AND machine_ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$' AND machine_shared_key IS NOT NULL),
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
    SELECT 'missing-type', 'agents', id, 'machine_id set but machine_type is null' FROM src WHERE machine_id IS NOT NULL AND machine_type IS NULL
    UNION ALL SELECT 'duplicate-provider-id', 'agents', id, 'provider id ' || machine_id || ' is held by another agent too' FROM held WHERE shared
    UNION ALL SELECT 'invalid-ipv4', 'agents', id, 'machine_ipv4 is not a dotted quad' FROM held WHERE NOT shared AND NOT coalesce(machine_ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$', false)
    UNION ALL SELECT 'duplicate-ipv4', 'agents', s.id, 'ipv4 ' || s.machine_ipv4 || ' is used by another agent too'
        FROM src s WHERE s.machine_ipv4 IS NOT NULL
          AND (SELECT count(*) FROM agents o WHERE o.machine_ipv4 = s.machine_ipv4) > 1),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'agents' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
WITH src AS (SELECT * FROM custom_machines WHERE id IN (SELECT s.machine_id FROM machine_snapshots s WHERE s.id IN (SELECT entity_id FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_snapshots')
UNION SELECT h.machine_id FROM machine_health_checks h WHERE h.id IN (SELECT entity_id::bigint FROM legacy_changes WHERE txid = txid_current() AND entity = 'machine_health_checks')) FOR UPDATE),
valid AS (SELECT * FROM src WHERE ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'),
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
    SELECT 'invalid-ipv4', 'custom_machines', id, 'ipv4 is not a dotted quad' FROM src WHERE NOT ipv4 ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
    UNION ALL SELECT 'dangling-current-agent', 'custom_machines', v.id, 'current_agent_id ' || v.current_agent_id || ' names no agent'
        FROM valid v WHERE v.current_agent_id IS NOT NULL AND (SELECT count(*) FROM agents a WHERE a.id = v.current_agent_id) = 0
    UNION ALL SELECT 'agent-fields-differ', 'custom_machines', h.machine_id, 'agent ' || h.agent_id || ' holds different machine fields'
        FROM holder h WHERE NOT h.consistent),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'custom_machines' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
SELECT count(*) INTO touched FROM src;
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
found (class, entity, entity_id, detail) AS (
    SELECT 'orphan-snapshot', 'machine_snapshots', s.id, 'machine id ' || s.machine_id || ' matches no machine'
    FROM src s WHERE NOT EXISTS (SELECT 1 FROM target t WHERE t.id = s.id)),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'machine_snapshots' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id FROM src s)
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
found (class, entity, entity_id, detail) AS (
    SELECT 'orphan-health-check', 'machine_health_checks', s.id::text, 'machine id ' || s.machine_id || ' matches no machine'
    FROM src s WHERE NOT EXISTS (SELECT 1 FROM target t WHERE t.id = s.id)),
dirty AS (
    INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
    SELECT class, entity, entity_id, detail FROM found
    ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, resolved_at = NULL),
cleaned AS (
    UPDATE migration_dirty_rows d SET resolved_at = now()
    WHERE d.entity = 'machine_health_checks' AND d.resolved_at IS NULL AND d.entity_id IN (SELECT s.id::text FROM src s)
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
                            AND (SELECT count(*) FROM agents a WHERE a.machine_id = c.legacy_id AND a.machine_type = 'hetzner') = 0
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
