using FleetAspire.Testing;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Verification;
using Npgsql;

namespace FleetAspire.Bench;

/// <summary>
/// The product's full verification on a backfilled fleet with ten divergences of every kind planted (seven fields
/// for field mismatches), against the floor: per entity one <c>LEFT JOIN … IS DISTINCT FROM</c> count query.
/// </summary>
internal static class VerifyBenchmark
{
    /// <summary>Ten of every kind; agents i = 10·n are clean pool holders, i = 10·n + 4 clean custom holders.</summary>
    private const string Plant = """
        -- missing-in-machine: ten ready pool machines lose their Machine row.
        DELETE FROM machines WHERE id IN (SELECT 'mh_' || (20000000 + 10 * r + 1) FROM generate_series(0, 9) r);
        -- missing-in-legacy: ten machines with no legacy source.
        INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, created_at, legacy_id)
        SELECT 'mh_planted_' || r, 'hetzner', 'planted_' || r, '10.255.0.' || r, 'planted-key', 8911, 'ready', now(), 'planted_' || r
        FROM generate_series(0, 9) r;
        -- field-mismatch: one field on ten machines each.
        UPDATE machines SET ipv4 = '1.2.3.4' WHERE id IN (SELECT 'mh_' || (10000000 + 10 * (r + 1)) FROM generate_series(0, 9) r);
        UPDATE machines SET port = 9999 WHERE id IN (SELECT 'mh_' || (10000000 + 10 * (100 + r + 1)) FROM generate_series(0, 9) r);
        UPDATE machines SET type = 'custom' WHERE id IN (SELECT 'mh_' || (10000000 + 10 * (200 + r + 1)) FROM generate_series(0, 9) r);
        UPDATE machines SET hetzner_machine_id = 'other' WHERE id IN (SELECT 'mh_' || (10000000 + 10 * (300 + r + 1)) FROM generate_series(0, 9) r);
        UPDATE machines SET user_id = 'intruder' WHERE id IN (SELECT 'mc_cm_' || (10 * (400 + r + 1) + 4) FROM generate_series(0, 9) r);
        UPDATE machines SET status = 'offline' WHERE id IN (SELECT 'mh_' || (10000000 + 10 * (500 + r + 1)) FROM generate_series(0, 9) r);
        UPDATE machines SET shared_key = 'changed' WHERE id IN (SELECT 'mh_' || (10000000 + 10 * (600 + r + 1)) FROM generate_series(0, 9) r);
        -- assignment-mismatch: ten agents lose their relation.
        UPDATE agents SET machine_ref = NULL WHERE id IN (SELECT 'agt_' || (10 * (800 + r + 1)) FROM generate_series(0, 9) r);
        -- orphan: ten snapshots and ten health checks of machines only legacy has (the pool machines above that lost
        -- their Machine row). A child whose machine is gone from both sides agrees on both: that is no divergence.
        INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final)
        SELECT 'snap_planted_' || r, (20000000 + 10 * r + 1)::text, 'available', now(), 'user_0', false FROM generate_series(0, 9) r;
        INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at)
        SELECT 'agt_1', (20000000 + 10 * r + 1)::text, 'healthy', now() FROM generate_series(0, 9) r;
        -- unlinked: ten snapshots and ten health checks lose their relation.
        UPDATE machine_snapshots SET machine_ref = NULL WHERE id IN (SELECT 'snap_agt_' || (10 * (900 + r + 1)) FROM generate_series(0, 9) r);
        UPDATE machine_health_checks SET machine_ref = NULL
        WHERE id IN (SELECT min(id) FROM machine_health_checks WHERE agent_id IN (SELECT 'agt_' || (10 * (950 + r + 1)) FROM generate_series(0, 9) r) GROUP BY agent_id);
        """;

    private const int Planted = 10 + 10 + 7 * 10 + 10 + 20 + 20;

    private static readonly string[] FloorQueries =
    [
        """
        SELECT count(*) FROM (
            SELECT fleet_machine_id('hetzner', machine_id) AS id, 'hetzner' AS type, machine_id AS provider_id, ipv4, shared_key, 8911 AS port,
                   CASE status WHEN 'ready' THEN 'ready' ELSE 'launching' END AS status, NULL::text AS user_id
            FROM parked_machines WHERE machine_id IS NOT NULL
            UNION ALL
            SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_ipv4, machine_shared_key, 8911, 'in_use', NULL
            FROM agents WHERE machine_type = 'hetzner' AND machine_id IS NOT NULL
            UNION ALL
            SELECT fleet_machine_id('custom', id), 'custom', NULL, ipv4, shared_key, port,
                   CASE WHEN current_agent_id IS NULL THEN 'offline' ELSE 'in_use' END, user_id
            FROM custom_machines) e
        LEFT JOIN machines m ON m.id = e.id
        WHERE m.id IS NULL OR e.ipv4 IS DISTINCT FROM m.ipv4 OR e.port IS DISTINCT FROM m.port OR e.type IS DISTINCT FROM m.type
           OR e.provider_id IS DISTINCT FROM m.hetzner_machine_id OR e.user_id IS DISTINCT FROM m.user_id
           OR e.status IS DISTINCT FROM m.status OR e.shared_key IS DISTINCT FROM m.shared_key
        """,
        """
        SELECT count(*) FROM agents a LEFT JOIN machines m ON m.id = fleet_machine_id(a.machine_type, a.machine_id)
        WHERE a.machine_ref IS DISTINCT FROM m.id
        """,
        "SELECT count(*) FROM machine_snapshots s LEFT JOIN machines m ON m.legacy_id = s.machine_id WHERE m.id IS NULL OR s.machine_ref IS DISTINCT FROM m.id",
        "SELECT count(*) FROM machine_health_checks h LEFT JOIN machines m ON m.legacy_id = h.machine_id WHERE m.id IS NULL OR h.machine_ref IS DISTINCT FROM m.id",
    ];

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var agents = options.Int("agents", 100_000);
        if (agents < 10_000)
        {
            throw new ArgumentException("verify plants into agents up to 9,600: use --agents 10000 or more");
        }

        Console.WriteLine("starting PostgreSQL (fsync on) ...");
        var postgres = await BackfillBenchmark.StartPostgresAsync();
        var database = await postgres.CreateDatabaseAsync("benchverify");
        var clock = Stopwatch.StartNew();
        await LegacyFleet.SeedAsync(database, agents);
        await using var source = NpgsqlDataSource.Create(database);
        var backfill = new MachineBackfill(source, new BackfillOptions { Pause = TimeSpan.Zero });
        await backfill.StartAsync(CancellationToken.None);
        await backfill.RunAsync(CancellationToken.None);
        await Sql.ExecuteAsync(database, "VACUUM ANALYZE");
        Console.WriteLine($"seeded and backfilled {agents} agents in {clock.Elapsed.TotalSeconds:0.0} s");

        var verifier = new MachineVerifier(source, RandomNumberGenerator.GetBytes(32));
        var before = await verifier.VerifyAsync(CancellationToken.None);
        Console.WriteLine($"before planting: {before.Open} open divergences in {before.Duration.TotalSeconds:0.00} s");

        await Sql.ExecuteAsync(database, Plant);
        await BackfillBenchmark.CheckpointAsync(database);
        clock.Restart();
        var summary = await verifier.VerifyAsync(CancellationToken.None);
        var seconds = clock.Elapsed.TotalSeconds;
        var found = await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_divergences WHERE resolved_at IS NULL");
        Console.WriteLine("found by kind: " + string.Join(", ", summary.OpenByKind.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value}")));

        await BackfillBenchmark.CheckpointAsync(database);
        clock.Restart();
        long floorCount = 0;
        foreach (var query in FloorQueries)
        {
            floorCount += await Sql.ScalarAsync(database, query);
        }

        var floorSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"floor: {floorCount} differing rows in {floorSeconds:0.00} s (counts only: no normalisation, no quarantine, nothing stored)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"verify agents={agents} seconds={seconds:0.00} found={found} planted={Planted} floor_seconds={floorSeconds:0.00} ratio={seconds / floorSeconds:0.00}"));
        return 0;
    }
}
