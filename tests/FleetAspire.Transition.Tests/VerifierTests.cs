using System.Text;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Verification;
using Npgsql;

namespace FleetAspire.Transition.Tests;

public sealed class VerifierTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("verifier-test-fingerprint-key-0123456789");

    private async Task<(string Database, NpgsqlDataSource Source, MachineVerifier Verifier)> BackfilledAsync(string hint, string legacySql)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync(hint);
        await Sql.ExecuteAsync(database, legacySql);
        output.WriteLine($"seeded in {clock.ElapsedMilliseconds} ms");
        var source = NpgsqlDataSource.Create(database);
        var backfill = new MachineBackfill(source, new BackfillOptions { BatchSize = 5000, Pause = TimeSpan.Zero });
        await backfill.StartAsync(CancellationToken.None);
        clock.Restart();
        Assert.Equal(BackfillStates.Done, (await backfill.RunAsync(CancellationToken.None)).State);
        output.WriteLine($"backfilled in {clock.ElapsedMilliseconds} ms");
        return (database, source, new MachineVerifier(source, Key));
    }

    /// <summary>
    /// An operator's dirty fleet (every class of <see cref="OperatorDirt"/>): each row the backfill leaves out is a reported
    /// dirty row, and the verifier then leaves exactly those out — it is clean, with nothing repair would have to
    /// (and could not) fix. Before: a pool agent without a shared key was skipped with no report, and the verifier
    /// reported it missing-in-machine and assignment-mismatch for ever.
    /// </summary>
    [Fact]
    public async Task Every_row_the_backfill_leaves_out_is_a_reported_dirty_row_and_the_verifier_is_clean_without_them()
    {
        var (database, source, verifier) = await BackfilledAsync("vfdirt", BackfillTests.LegacyFleet + OperatorDirt.Sql(_ => "dirt"));
        await using var _ = source;

        var reported = new HashSet<(string, string)>();
        await using (var connection = await source.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand("SELECT DISTINCT class, entity FROM migration_dirty_rows WHERE resolved_at IS NULL", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                reported.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        Assert.Empty(OperatorDirt.Expected.Except(reported));
        Assert.Empty(reported.Except(OperatorDirt.Expected));
        // Nothing left out in silence: every legacy row that holds or is a machine is in Machine, or reported.
        const string Unreported = """
            SELECT
              (SELECT count(*) FROM agents a WHERE coalesce(a.machine_id, a.machine_type, a.machine_ipv4, a.machine_shared_key) IS NOT NULL
                 AND a.machine_ref IS NULL AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'agents' AND d.entity_id = a.id)
                 AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'custom_machines' AND d.entity_id = a.machine_id))
            + (SELECT count(*) FROM parked_machines p WHERE NOT EXISTS (SELECT 1 FROM machines m WHERE m.id = fleet_machine_id('hetzner', p.machine_id))
                 AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'parked_machines' AND d.entity_id = p.id))
            + (SELECT count(*) FROM custom_machines c WHERE NOT EXISTS (SELECT 1 FROM machines m WHERE m.id = fleet_machine_id('custom', c.id))
                 AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'custom_machines' AND d.entity_id = c.id))
            + (SELECT count(*) FROM machine_snapshots s WHERE s.machine_ref IS NULL
                 AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'machine_snapshots' AND d.entity_id = s.id))
            + (SELECT count(*) FROM machine_health_checks h WHERE h.machine_ref IS NULL
                 AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'machine_health_checks' AND d.entity_id = h.id::text))
            """;
        Assert.Equal(0, await Sql.ScalarAsync(database, Unreported));
        // One host, different ports: not dirt.
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_dirty_rows WHERE entity_id LIKE '%samehost%'"));
        Assert.Equal(OperatorDirt.PerClass, await Sql.ScalarAsync(database, "SELECT count(*) FROM agents WHERE id LIKE 'agd_samehost_%' AND machine_ref IS NOT NULL"));

        var summary = await verifier.VerifyAsync(CancellationToken.None);

        Assert.True(summary.Clean, string.Join(", ", summary.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
    }

    private const string SmallFleet = """
        INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at) VALUES
            ('pm_1', '1001', 'pool-1', '10.1.0.1', 'ready', 'k-1001', now(), now());
        INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type) VALUES
            ('agt_pool', 'a', 'alice', 'active', now(), now(), '2001', '10.2.0.1', 'k-2001', 'hetzner'),
            ('agt_pool2', 'a', 'alice', 'active', now(), now(), '2002', '10.2.0.2', 'k-2002', 'hetzner'),
            ('agt_custom', 'c', 'bob', 'active', now(), now(), 'cm_1', '192.0.2.10', 'ck-0123456789', 'custom');
        INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, current_agent_id, created_at, updated_at) VALUES
            ('cm_1', '192.0.2.10', 2222, 'ck-0123456789', 'bob', 'agt_custom', now(), now()),
            ('cm_2', '192.0.2.11', 8911, 'ck2-0123456789', 'bob', NULL, now(), now());
        INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final) VALUES
            ('snap_1', '2001', 'available', now(), 'alice', false), ('snap_2', 'cm_1', 'available', now(), 'bob', false);
        INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES ('agt_pool', '2001', 'healthy', now());
        """;

    [Fact]
    public async Task Clean_data_yields_no_divergence_and_text_forms_do_not_count_as_one()
    {
        var (database, source, verifier) = await BackfilledAsync("verclean", SmallFleet);
        await using var _ = source;
        // Same values, other spellings: padded address, empty owner on a hetzner machine.
        await Sql.ExecuteAsync(database, "UPDATE machines SET ipv4 = ' 10.2.0.1 ' WHERE id = 'mh_2001'; UPDATE machines SET user_id = '' WHERE id = 'mh_2002';");

        var summary = await verifier.VerifyAsync(CancellationToken.None);

        Assert.True(summary.Clean, string.Join(", ", summary.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
    }

    [Fact]
    public async Task Each_planted_divergence_is_found_and_classified()
    {
        var (database, source, verifier) = await BackfilledAsync("verplant", SmallFleet);
        await using var _ = source;
        await Sql.ExecuteAsync(database, """
            UPDATE machines SET ipv4 = '10.2.0.99', port = 2223, status = 'offline', shared_key = 'tampered-key' WHERE id = 'mh_2001';
            UPDATE machines SET user_id = 'mallory' WHERE id = 'mc_cm_2';
            DELETE FROM machines WHERE id = 'mh_1001';
            INSERT INTO machines (id, type, ipv4, shared_key, legacy_id) VALUES ('mh_9999', 'hetzner', '10.9.9.9', 'ghost-key', '9999');
            UPDATE agents SET machine_ref = NULL WHERE id = 'agt_pool2';
            UPDATE machine_snapshots SET machine_ref = NULL WHERE id = 'snap_2';
            INSERT INTO machine_snapshots (id, machine_id, machine_ref, status, created_at, user_id, is_final)
            VALUES ('snap_orphan', 'nowhere', 'mh_2001', 'available', now(), 'x', false),
                   ('snap_of_destroyed', 'destroyed-server', 'mh_destroyed-server', 'available', now(), 'x', true);
            """);

        var summary = await verifier.VerifyAsync(CancellationToken.None);

        async Task<long> Found(string entity, string id, string field, string kind) => await Sql.ScalarAsync(database,
            $"SELECT count(*) FROM migration_divergences WHERE entity = '{entity}' AND entity_id = '{id}' AND field = '{field}' AND kind = '{kind}' AND resolved_at IS NULL");
        Assert.Equal(1, await Found("machines", "mh_2001", "ipv4", DivergenceKinds.FieldMismatch));
        Assert.Equal(1, await Found("machines", "mh_2001", "port", DivergenceKinds.FieldMismatch));
        Assert.Equal(1, await Found("machines", "mh_2001", "status", DivergenceKinds.FieldMismatch));
        Assert.Equal(1, await Found("machines", "mh_2001", "shared_key", DivergenceKinds.FieldMismatch));
        Assert.Equal(1, await Found("machines", "mc_cm_2", "owner", DivergenceKinds.FieldMismatch));
        Assert.Equal(1, await Found("machines", "mh_1001", "*", DivergenceKinds.MissingInMachine));
        Assert.Equal(1, await Found("machines", "mh_9999", "*", DivergenceKinds.MissingInLegacy));
        Assert.Equal(1, await Found("agents", "agt_pool2", "machine_ref", DivergenceKinds.AssignmentMismatch));
        Assert.Equal(1, await Found("machine_snapshots", "snap_2", "machine_ref", DivergenceKinds.Unlinked));
        Assert.Equal(1, await Found("machine_snapshots", "snap_orphan", "machine_ref", DivergenceKinds.Orphan));
        // A snapshot kept after its server was destroyed: gone from both sides, both agree — not a divergence.
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_divergences WHERE entity_id = 'snap_of_destroyed'"));
        Assert.Equal(10, summary.Open);
        // Keys are compared, never recorded.
        Assert.Equal(0, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM migration_divergences WHERE concat(legacy_value, machine_value) ~ '(k-2001|tampered-key|ghost-key)'"));
        Assert.Equal(1, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM migration_divergences WHERE field = 'shared_key' AND legacy_value = 'differs' AND machine_value = 'differs'"));
    }

    [Fact]
    public async Task A_divergence_fixed_before_the_next_scan_is_marked_resolved_and_not_forgotten()
    {
        var (database, source, verifier) = await BackfilledAsync("verresolve", SmallFleet);
        await using var _ = source;
        await Sql.ExecuteAsync(database, "UPDATE machines SET port = 1 WHERE id = 'mc_cm_1';");
        Assert.Equal(1, (await verifier.VerifyAsync(CancellationToken.None)).Open);

        await Sql.ExecuteAsync(database, "UPDATE machines SET port = 2222 WHERE id = 'mc_cm_1';");
        var after = await verifier.VerifyAsync(CancellationToken.None);

        Assert.True(after.Clean);
        Assert.Equal(1, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM migration_divergences WHERE entity_id = 'mc_cm_1' AND field = 'port' AND resolved_at IS NOT NULL"));
    }

    [Fact]
    public async Task A_hundred_thousand_agents_backfilled_verify_clean()
    {
        var (_, source, verifier) = await BackfilledAsync("ver100k", """
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            SELECT 'agt_' || i, 'a', 'u' || (i % 500), 'active', now(), now(), (1000000 + i)::text,
                   '10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256), md5(i::text), 'hetzner'
            FROM generate_series(1, 100000) i;
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
            SELECT 'cm_' || i, '172.16.' || (i / 256) || '.' || (i % 256), 22, 'ck-0123456789-' || i, 'u', now(), now()
            FROM generate_series(1, 10000) i;
            INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final)
            SELECT 'snap_' || i, (1000000 + i)::text, 'available', now(), 'u', false FROM generate_series(1, 20000) i;
            """);
        await using var _ = source;

        var summary = await verifier.VerifyAsync(CancellationToken.None);

        output.WriteLine($"verified in {summary.Duration.TotalMilliseconds:0} ms");
        Assert.True(summary.Clean, string.Join(", ", summary.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
    }

    [Fact]
    public async Task Incremental_verification_checks_what_the_change_log_names_since_the_last_run()
    {
        var (database, source, verifier) = await BackfilledAsync("verincr", SmallFleet);
        await using var _ = source;
        Assert.True((await verifier.VerifyAsync(CancellationToken.None)).Clean);

        // Old code (no dual-write yet) moves a custom machine and retires a pool server; someone also edits a Machine
        // row by hand, which the change log cannot see.
        await Sql.ExecuteAsync(database, """
            UPDATE custom_machines SET ipv4 = '192.0.2.77' WHERE id = 'cm_2';
            DELETE FROM parked_machines WHERE id = 'pm_1';
            """);
        await Sql.ExecuteAsync(database, "UPDATE machines SET port = 1 WHERE id = 'mc_cm_1';");
        var (incremental, checkedChanges) = await IncrementalUntilAsync(verifier, 2);

        async Task<long> Open(string id, string field, string kind) => await Sql.ScalarAsync(database,
            $"SELECT count(*) FROM migration_divergences WHERE entity_id = '{id}' AND field = '{field}' AND kind = '{kind}' AND resolved_at IS NULL");
        Assert.Equal(VerificationModes.Incremental, incremental.Mode);
        Assert.Equal(2, checkedChanges);
        Assert.Equal(1, await Open("mc_cm_2", "ipv4", DivergenceKinds.FieldMismatch));
        Assert.Equal(1, await Open("mh_1001", "*", DivergenceKinds.MissingInLegacy));
        Assert.Equal(0, await Open("mc_cm_1", "port", DivergenceKinds.FieldMismatch));
        Assert.Equal(2, incremental.Open);

        // Put back: the next incremental run sees the change and resolves the record; nothing new, nothing checked twice.
        await Sql.ExecuteAsync(database, "UPDATE custom_machines SET ipv4 = '192.0.2.11' WHERE id = 'cm_2';");
        var (_, nextChecked) = await IncrementalUntilAsync(verifier, 1);
        Assert.Equal(1, nextChecked);
        Assert.Equal(0, await Open("mc_cm_2", "ipv4", DivergenceKinds.FieldMismatch));
        Assert.Equal(0, (await verifier.VerifyIncrementalAsync(CancellationToken.None)).ChangesChecked);

        // The full scan still finds what no change recorded.
        var full = await verifier.VerifyAsync(CancellationToken.None);
        Assert.Equal(1, await Open("mc_cm_1", "port", DivergenceKinds.FieldMismatch));
        Assert.Equal(2, full.Open);
    }

    /// <summary>
    /// Runs incremental verifications until they have covered <paramref name="changes"/> changes. A change becomes
    /// visible to them once every older transaction in the cluster has finished (other tests' included).
    /// </summary>
    internal static async Task<(VerificationSummary Last, long Checked)> IncrementalUntilAsync(MachineVerifier verifier, long changes)
    {
        long total = 0;
        VerificationSummary last = null!;
        await Eventually.TrueAsync(async () =>
        {
            last = await verifier.VerifyIncrementalAsync(CancellationToken.None);
            total += last.ChangesChecked;
            return total >= changes;
        }, TimeSpan.FromSeconds(20), $"the incremental verification did not reach {changes} changes");
        return (last, total);
    }

    [Fact]
    public async Task The_last_summary_outlives_the_verifier_that_produced_it()
    {
        var (database, source, verifier) = await BackfilledAsync("verlast", SmallFleet);
        await using var _ = source;
        await Sql.ExecuteAsync(database, "UPDATE machines SET status = 'offline' WHERE id = 'mh_2001';");
        var summary = await verifier.VerifyAsync(CancellationToken.None);

        await using var another = NpgsqlDataSource.Create(database);
        var last = await new MachineVerifier(another, Key).LastAsync(CancellationToken.None);

        Assert.NotNull(last);
        Assert.Equal(VerificationModes.Full, last.Mode);
        Assert.Equal(summary.Open, last.Open);
        Assert.Equal(1, last.OpenByKind[DivergenceKinds.FieldMismatch]);
    }
}
