namespace FleetAspire.Data.MachineTransition.Backfill;

/// <summary>
/// The backfill's statements. Each copies one batch of one legacy table into <c>machines</c> (or links rows to it),
/// locking its legacy source rows <c>FOR UPDATE</c> in the same transaction as the upsert, so a concurrent writer is
/// either copied or waits and is then caught up — never overwritten. <c>{source}</c> is either a keyset batch
/// (<c>id &gt; @cursor ORDER BY id LIMIT @batch</c>) or, in the catch-up, the ids the change log names.
/// Every statement ends with <c>SELECT count(*), max(id)</c> of its source rows.
/// </summary>
/// <remarks>
/// A probe of agents by type is written <c>coalesce(a.machine_type, '') = 'hetzner'</c>: the type stays a filter and
/// never picks the index. Statistics go stale fast here (claims turn idle agents into pool holders faster than
/// autoanalyze), and a plan cached while they were stale probes every pool agent per row (ADR 0019).
/// </remarks>
internal static class BackfillSql
{
    /// <summary>Dotted-quad IPv4 without leading zeros: the same rule as the APIs' input validation.</summary>
    public const string Ipv4Pattern = @"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$";

    /// <summary>
    /// Records what the batch found dirty, and clears its rows' earlier reports that are clean now (a later write fixed
    /// them, or a race was read mid-way): quarantine lasts exactly as long as the data is dirty. A report stays
    /// <c>quarantined</c> — left out of every comparison — while the row is dirty, whether open or resolved by an
    /// operator's recorded decision; that decision stands while the row is as it was when it was taken.
    /// </summary>
    private static string DirtyReport(string table, string idText) => $"""
        dirty AS (
            INSERT INTO migration_dirty_rows (class, entity, entity_id, detail)
            SELECT class, entity, entity_id, detail FROM found
            ON CONFLICT (class, entity, entity_id) DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail, quarantined = true,
                resolved_at = CASE WHEN migration_dirty_rows.resolution IS NOT NULL AND migration_dirty_rows.detail = EXCLUDED.detail
                                   THEN migration_dirty_rows.resolved_at END),
        cleaned AS (
            UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
            WHERE d.entity = '{table}' AND d.quarantined AND d.entity_id IN (SELECT {idText} FROM src s)
              AND NOT EXISTS (SELECT 1 FROM found f WHERE f.class = d.class AND f.entity = d.entity AND f.entity_id = d.entity_id))
        """;

    /// <summary>
    /// Pool rows → hetzner machines (launching/ready). Each row is judged by one expression (<see cref="DirtyClasses"/>):
    /// copied exactly when it names no class. A booting server without an address yet is copied with an empty one.
    /// </summary>
    public static readonly string ParkedMachines = $$"""
        WITH src AS (SELECT * FROM parked_machines WHERE {source} FOR UPDATE),
        judged AS (
            SELECT s.*, CASE
                WHEN s.machine_id IS NULL THEN '{{DirtyClasses.PendingProvision}}'
                WHEN coalesce(s.ipv4, '') = '' AND s.status <> 'ready' THEN NULL
                WHEN NOT coalesce(s.ipv4 ~ '{{Ipv4Pattern}}', false) THEN '{{DirtyClasses.InvalidIpv4}}'
                WHEN coalesce(s.shared_key, '') = '' THEN '{{DirtyClasses.MissingSharedKey}}'
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
                    WHEN '{{DirtyClasses.PendingProvision}}' THEN 'no provider server id (status ' || coalesce(status, 'null') || ')'
                    WHEN '{{DirtyClasses.InvalidIpv4}}' THEN 'ipv4 ' || coalesce(quote_literal(ipv4), 'null') || ' is not a dotted quad'
                    ELSE 'shared_key is empty' END
            FROM judged WHERE class IS NOT NULL
            UNION ALL SELECT '{{DirtyClasses.ParkedAndHeld}}', 'parked_machines', v.id, 'provider id ' || v.machine_id || ' is held by an agent'
            FROM valid v WHERE (SELECT count(*) FROM agents a WHERE a.machine_id = v.machine_id AND coalesce(a.machine_type, '') = 'hetzner') > 0),
        {{DirtyReport("parked_machines", "s.id")}}
        SELECT count(*), max(id) FROM src
        """;

    /// <summary>
    /// Agents → hetzner machines (in_use) and their relation. Each agent is judged by one expression, first match wins
    /// (<see cref="DirtyClasses"/>), and a pool machine is copied exactly when it names no class: nothing is guessed at
    /// and nothing is skipped unreported. Two pool servers on one ipv4 are reported but still migrated. An agent without
    /// a machine has its relation cleared (a release since the copy). Custom agents are linked by the custom machine
    /// statement; here they are only judged.
    /// </summary>
    public static readonly string PoolAgents = $$"""
        WITH src AS (SELECT ctid AS row_ctid, * FROM agents WHERE {source} FOR UPDATE),
        judged AS (
            -- Scalar subqueries, not EXISTS: they probe the index per batch row, where a semi-join would hash the
            -- whole table on every batch.
            SELECT s.*, CASE
                WHEN s.machine_id IS NULL THEN
                    CASE WHEN coalesce(s.machine_type, s.machine_ipv4, s.machine_shared_key) IS NOT NULL THEN '{{DirtyClasses.StrayMachineFields}}' END
                WHEN s.machine_type IS NULL THEN '{{DirtyClasses.MissingType}}'
                WHEN s.machine_type = 'custom' THEN CASE
                    WHEN (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id) = 0 THEN '{{DirtyClasses.DanglingCustomMachine}}'
                    WHEN (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id AND c.current_agent_id = s.id) = 0
                        THEN '{{DirtyClasses.CustomNotAssignedBack}}' END
                WHEN s.machine_type <> 'hetzner' THEN '{{DirtyClasses.UnknownType}}'
                WHEN (SELECT count(*) FROM agents o WHERE o.machine_id = s.machine_id AND coalesce(o.machine_type, '') = 'hetzner') > 1
                    THEN '{{DirtyClasses.DuplicateProviderId}}'
                WHEN NOT coalesce(s.machine_ipv4 ~ '{{Ipv4Pattern}}', false) THEN '{{DirtyClasses.InvalidIpv4}}'
                WHEN coalesce(s.machine_shared_key, '') = '' THEN '{{DirtyClasses.MissingSharedKey}}'
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
                    WHEN '{{DirtyClasses.StrayMachineFields}}' THEN 'no machine_id, but machine_type/ipv4/shared_key set'
                    WHEN '{{DirtyClasses.MissingType}}' THEN 'machine_id set but machine_type is null'
                    WHEN '{{DirtyClasses.UnknownType}}' THEN 'machine_type ' || quote_literal(machine_type) || ' is neither hetzner nor custom'
                    WHEN '{{DirtyClasses.DanglingCustomMachine}}' THEN 'custom machine ' || machine_id || ' does not exist'
                    WHEN '{{DirtyClasses.CustomNotAssignedBack}}' THEN 'custom machine ' || machine_id || ' is not assigned to this agent'
                    WHEN '{{DirtyClasses.DuplicateProviderId}}' THEN 'provider id ' || machine_id || ' is held by another agent too'
                    WHEN '{{DirtyClasses.InvalidIpv4}}' THEN 'machine_ipv4 ' || coalesce(quote_literal(machine_ipv4), 'null') || ' is not a dotted quad'
                    ELSE 'pool machine ' || machine_id || ' has no shared key' END
            FROM judged WHERE class IS NOT NULL
            -- Pool servers have addresses of their own; custom machines on one host with different ports do not count.
            UNION ALL SELECT '{{DirtyClasses.DuplicateIpv4}}', 'agents', v.id, 'ipv4 ' || v.machine_ipv4 || ' is used by another pool server too'
                FROM valid v
                WHERE (SELECT count(*) FROM agents o WHERE o.machine_ipv4 = v.machine_ipv4 AND coalesce(o.machine_type, '') = 'hetzner') > 1),
        {{DirtyReport("agents", "s.id")}}
        SELECT count(*), max(id) FROM src
        """;

    /// <summary>
    /// Custom machines → custom machines with their owner, and the relation of their agent when the agent really
    /// holds them (same id, ipv4 and key). Judged like the others; a dangling or inconsistent current agent is reported
    /// and the machine migrated unassigned.
    /// </summary>
    public static readonly string CustomMachines = $$"""
        WITH src AS (SELECT * FROM custom_machines WHERE {source} FOR UPDATE),
        judged AS (
            SELECT s.*, CASE
                WHEN NOT coalesce(s.ipv4 ~ '{{Ipv4Pattern}}', false) THEN '{{DirtyClasses.InvalidIpv4}}'
                WHEN s.port NOT BETWEEN 1 AND 65535 THEN '{{DirtyClasses.InvalidPort}}'
                WHEN coalesce(s.shared_key, '') = '' THEN '{{DirtyClasses.MissingSharedKey}}'
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
                    WHEN '{{DirtyClasses.InvalidIpv4}}' THEN 'ipv4 ' || coalesce(quote_literal(ipv4), 'null') || ' is not a dotted quad'
                    WHEN '{{DirtyClasses.InvalidPort}}' THEN 'port ' || port || ' is not between 1 and 65535'
                    ELSE 'shared_key is empty' END
            FROM judged WHERE class IS NOT NULL
            UNION ALL SELECT '{{DirtyClasses.DanglingCurrentAgent}}', 'custom_machines', v.id, 'current_agent_id ' || v.current_agent_id || ' names no agent'
                FROM valid v WHERE v.current_agent_id IS NOT NULL AND (SELECT count(*) FROM agents a WHERE a.id = v.current_agent_id) = 0
            UNION ALL SELECT '{{DirtyClasses.AgentFieldsDiffer}}', 'custom_machines', h.machine_id, 'agent ' || h.agent_id || ' holds different machine fields'
                FROM holder h WHERE NOT h.consistent),
        {{DirtyReport("custom_machines", "s.id")}}
        SELECT count(*), max(id) FROM src
        """;

    /// <summary>Snapshots → their machine, by the legacy string id (provider ids and custom ids never collide).</summary>
    public static readonly string Snapshots = ChildLinks("machine_snapshots", DirtyClasses.OrphanSnapshot, "id");

    /// <summary>Health checks → their machine, like snapshots. Ids are numbers: the cursor compares as bigint.</summary>
    public static readonly string HealthChecks = ChildLinks("machine_health_checks", DirtyClasses.OrphanHealthCheck, "id::text");

    /// <summary>
    /// A child that cannot link is reported either way, both classes closed by the flip into MachineOnly (which links
    /// it to a tombstone): its machine is gone from every model (<paramref name="orphanClass"/>, a snapshot that
    /// outlived its server), or its machine is a dirty legacy row left out of Machine
    /// (<see cref="DirtyClasses.ChildOfDirtyMachine"/>). <paramref name="idText"/>: the id column as text.
    /// </summary>
    private static string ChildLinks(string table, string orphanClass, string idText) => $$"""
        WITH src AS (SELECT ctid, id, machine_id FROM {{table}} WHERE {source} FOR UPDATE),
        target AS (
            SELECT s.ctid, s.id, m.id AS machine_ref FROM src s
            JOIN machines m ON m.id IN (fleet_machine_id('hetzner', s.machine_id), fleet_machine_id('custom', s.machine_id))),
        linked AS (
            -- By the locked row's ctid (stable while the lock is held): a TID scan per row, where a join on id lets the
            -- planner merge-join from the start of the table on every batch.
            UPDATE {{table}} x SET machine_ref = t.machine_ref FROM target t
            WHERE x.ctid = t.ctid AND x.machine_ref IS DISTINCT FROM t.machine_ref RETURNING 1),
        unlinkable AS (
            SELECT s.id, s.machine_id,
                   (SELECT count(*) FROM parked_machines p WHERE p.machine_id = s.machine_id)
                   + (SELECT count(*) FROM agents a WHERE a.machine_id = s.machine_id)
                   + (SELECT count(*) FROM custom_machines c WHERE c.id = s.machine_id) > 0 AS in_legacy
            FROM src s WHERE NOT EXISTS (SELECT 1 FROM target t WHERE t.id = s.id)),
        found (class, entity, entity_id, detail) AS (
            SELECT CASE WHEN u.in_legacy THEN '{{DirtyClasses.ChildOfDirtyMachine}}' ELSE '{{orphanClass}}' END, '{{table}}', u.{{idText}},
                   'machine id ' || u.machine_id || CASE WHEN u.in_legacy THEN ' is a dirty legacy row left out of Machine' ELSE ' exists in no model' END
            FROM unlinkable u),
        {{DirtyReport(table, "s." + idText)}}
        SELECT count(*), max(id)::text FROM src
        """;

    /// <summary>
    /// Machines whose legacy source is gone: a retired pool server (no pool row, no agent holds it) or a deleted custom
    /// machine. Run by the catch-up for the legacy ids that deletes and releases name.
    /// </summary>
    public const string RemoveVanished = """
        WITH candidate AS MATERIALIZED (
            -- By the derived id (the primary key), not legacy_id = ANY(…): no index leads with legacy_id.
            SELECT m.id, m.type, m.legacy_id FROM machines m
            WHERE m.id IN (SELECT fleet_machine_id(t.type, x.legacy_id)
                           FROM unnest(@legacy_ids) x(legacy_id), (VALUES ('hetzner'), ('custom')) t(type))
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
        DELETE FROM machines m USING gone g WHERE m.id = g.id
        """;

    /// <summary>
    /// The copy pass's last step: machines whose legacy source no longer exists (a pool server released or retired, a
    /// custom machine deleted, while a phase before this run was dual-writing) are removed, a keyset batch at a time.
    /// Anything that re-creates a source meanwhile is in the change log and re-copied by the catch-up.
    /// </summary>
    public const string PruneVanished = """
        WITH src AS (SELECT id, type, legacy_id FROM machines WHERE {source} FOR UPDATE),
        gone AS (
            DELETE FROM machines m USING src s
            WHERE m.id = s.id
              AND ((s.type = 'hetzner'
                    AND NOT EXISTS (SELECT 1 FROM parked_machines p WHERE p.machine_id = s.legacy_id)
                    AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.machine_type = 'hetzner' AND a.machine_id = s.legacy_id))
                OR (s.type = 'custom' AND NOT EXISTS (SELECT 1 FROM custom_machines c WHERE c.id = s.legacy_id)))
            RETURNING 1)
        SELECT count(*), max(id) FROM src
        """;
}
