using System.Diagnostics;
using System.Globalization;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Testing;
using Npgsql;

namespace FleetAspire.Bench;

/// <summary>
/// The product's backfill (keyset batches with row locks, dirty-data checks, checkpoints, catch-up over the change
/// log) against the floor: one set-based statement per entity on an identical clone. The same fixed-rate legacy
/// writer runs during both; after the product's run every one of its writes must show in the Machine model.
/// </summary>
internal static class BackfillBenchmark
{
    /// <summary>The floor: copy each legacy table once, then set the relations. No locks, no checks, no resume.</summary>
    private const string Floor = """
        INSERT INTO machines (id, type, hetzner_machine_id, name, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
        SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_name, ipv4, shared_key, 8911,
               CASE status WHEN 'ready' THEN 'ready' ELSE 'launching' END, created_at, updated_at, machine_id
        FROM parked_machines WHERE machine_id IS NOT NULL ON CONFLICT DO NOTHING;
        INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
        SELECT fleet_machine_id('hetzner', machine_id), 'hetzner', machine_id, machine_ipv4, machine_shared_key, 8911, 'in_use', updated_at, updated_at, machine_id
        FROM agents WHERE machine_type = 'hetzner' AND machine_id IS NOT NULL ON CONFLICT DO NOTHING;
        INSERT INTO machines (id, type, ipv4, shared_key, port, status, user_id, os, arch, cpu_count, memory_gb, created_at, last_seen_at, legacy_id)
        SELECT fleet_machine_id('custom', id), 'custom', ipv4, shared_key, port, CASE WHEN current_agent_id IS NULL THEN 'offline' ELSE 'in_use' END,
               user_id, os, arch, cpu_count, memory_gb, created_at, updated_at, id
        FROM custom_machines ON CONFLICT DO NOTHING;
        -- One holder per machine (the relation is unique): the first agent by id.
        UPDATE agents a SET machine_ref = m.id
        FROM (SELECT min(id) AS id, fleet_machine_id(machine_type, machine_id) AS ref FROM agents
              WHERE machine_type IS NOT NULL AND machine_id IS NOT NULL GROUP BY 2) one
        JOIN machines m ON m.id = one.ref
        WHERE a.id = one.id;
        UPDATE machine_snapshots s SET machine_ref = m.id FROM machines m WHERE m.legacy_id = s.machine_id;
        UPDATE machine_health_checks h SET machine_ref = m.id FROM machines m WHERE m.legacy_id = h.machine_id;
        """;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var agents = options.Int("agents", 100_000);
        var rate = options.Int("rate", 200);
        var batch = options.Int("batch", new BackfillOptions().BatchSize);

        Console.WriteLine("starting PostgreSQL (fsync on) ...");
        var postgres = await StartPostgresAsync();
        var seed = await postgres.CreateDatabaseAsync("benchlegacy");
        var clock = Stopwatch.StartNew();
        await LegacyFleet.SeedAsync(seed, agents);
        var rows = await Sql.ScalarAsync(seed,
            "SELECT (SELECT count(*) FROM agents) + (SELECT count(*) FROM parked_machines) + (SELECT count(*) FROM custom_machines) " +
            "+ (SELECT count(*) FROM machine_snapshots) + (SELECT count(*) FROM machine_health_checks)");
        Console.WriteLine($"seeded {rows} legacy rows for {agents} agents in {clock.Elapsed.TotalSeconds:0.0} s");
        var productDb = await LegacyFleet.CloneAsync(postgres.ServerConnectionString, seed, "bench_backfill_product");
        var floorDb = await LegacyFleet.CloneAsync(postgres.ServerConnectionString, seed, "bench_backfill_floor");

        // The product: start, run to done with pause 0; the writer runs until the copy reaches the catch-up, whose
        // job is to apply what the writer did.
        var productWriter = new LegacyFleet.Writer(productDb, agents, rate);
        await CheckpointAsync(productDb);
        await using var source = NpgsqlDataSource.Create(productDb);
        var backfill = new MachineBackfill(source, new BackfillOptions { BatchSize = batch, Pause = TimeSpan.Zero });
        productWriter.Start();
        clock.Restart();
        await backfill.StartAsync(CancellationToken.None);
        var run = backfill.RunAsync(CancellationToken.None);
        var step = "";
        while (!run.IsCompleted)
        {
            var now = await backfill.ProgressAsync(CancellationToken.None);
            if (now.Step != step)
            {
                Console.WriteLine($"  {clock.Elapsed.TotalSeconds,7:0.00} s  {now.Step}");
                step = now.Step;
            }

            if (step is "catch_up" or "done")
            {
                break;
            }

            await Task.WhenAny(run, Task.Delay(100));
        }

        await productWriter.StopAsync();
        var progress = await run;
        var seconds = clock.Elapsed.TotalSeconds;
        var reflected = await productWriter.ReflectedAsync();
        Console.WriteLine($"product: {progress.State}, {progress.RowsDone} rows in {seconds:0.00} s ({progress.RowsDone / seconds:0} rows/s), " +
                          $"dirty rows {await Sql.ScalarAsync(productDb, "SELECT count(*) FROM migration_dirty_rows")}, " +
                          $"machines {await Sql.ScalarAsync(productDb, "SELECT count(*) FROM machines")}");

        Console.WriteLine("dirty by class: " + await Sql.StringAsync(productDb,
            "SELECT string_agg(class || '=' || n, ', ' ORDER BY class) FROM (SELECT class, count(*) n FROM migration_dirty_rows GROUP BY class) c"));

        // The floor, with the same writer at the same rate for its whole run.
        var floorWriter = new LegacyFleet.Writer(floorDb, agents, rate);
        await CheckpointAsync(floorDb);
        floorWriter.Start();
        clock.Restart();
        await Sql.ExecuteAsync(floorDb, Floor);
        var floorSeconds = clock.Elapsed.TotalSeconds;
        await floorWriter.StopAsync();
        Console.WriteLine($"floor: {floorSeconds:0.00} s, machines {await Sql.ScalarAsync(floorDb, "SELECT count(*) FROM machines")}");

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"backfill agents={agents} seconds={seconds:0.00} floor_seconds={floorSeconds:0.00} ratio={seconds / floorSeconds:0.00} writer_ops={productWriter.Operations} reflected={reflected}"));
        return 0;
    }

    /// <summary>A cluster of its own, durable, sized like a small production server (the same for product and floor).</summary>
    internal static Task<TestPostgres> StartPostgresAsync() =>
        TestPostgres.StartDedicatedAsync(durable: true, "shared_buffers=1GB", "max_wal_size=8GB", "checkpoint_timeout=30min");

    internal static Task CheckpointAsync(string database) => Sql.ExecuteAsync(database, "CHECKPOINT");
}
