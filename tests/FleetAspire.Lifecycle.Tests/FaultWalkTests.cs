using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Data.Migrations;
using FleetAspire.Machines.Apis;
using FleetAspire.Migration.Apis;
using FleetAspire.Pool.Apis;
using FleetAspire.Snapshots.Apis;
using FleetAspire.Testing;
using Xunit.Abstractions;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// The migration walked on a dirty legacy database under live traffic, all the way to Contracted: once alone (nothing
/// may answer 5xx), once with faults injected on the way — the backfill killed mid-run (its control service stopped),
/// the control service restarted during a flip and again in the middle of the contract set, RabbitMQ stopped for 30 s,
/// PostgreSQL restarted once. Nothing acknowledged is lost, nothing answers 500, the migration completes.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class FaultWalkTests(ITestOutputHelper output)
{
    private const int Writers = 16;
    private const int AgentsPerWriter = 8;
    private const int SeededAgents = 10_000;
    private const string SeededAgentsOnly = "name <> 'load'"; // the clients' agents are named 'load'

    private static readonly Dictionary<string, string?> ServiceSettings = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["MachineTransition:PollInterval"] = "00:00:00.200",
        // A load test, not a test of the limits: each client here is one user writing flat out, and the ledger check
        // reads back thousands of rows per user.
        ["RateLimits:PerUserPerSecond"] = "100000",
        ["RateLimits:PerUserBurst"] = "100000",
        ["RateLimits:HeartbeatsPerMachinePerMinute"] = "100000",
    };

    private static readonly Dictionary<string, string?> ControlSettings = new()
    {
        // Small, paced batches: the backfill runs long enough to be killed in the middle.
        ["Backfill:BatchSize"] = "200",
        ["Backfill:Pause"] = "00:00:00.050",
        ["Verification:IncrementalInterval"] = "00:00:00",
        ["Phases:QuietPeriod"] = "00:00:01",
        ["Phases:ContractSoak"] = "00:00:05",
        // Paced, so the control service can be stopped in the middle of the contract set.
        ["Contract:PauseBetweenSteps"] = "00:00:00.300",
    };

    /// <param name="faults">
    /// false: the walk alone, where nothing may answer 5xx at all; true: the same walk with every fault injected, where
    /// 503 + Retry-After is allowed (the outages) and 500 never.
    /// </param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_walk_on_dirty_data_to_Contracted_survives_a_killed_backfill_restarted_control_services_a_broker_outage_and_a_database_restart(bool faults)
    {
        var postgres = await TestPostgres.StartDedicatedAsync(durable: true);
        var database = await postgres.CreateDatabaseAsync(faults ? "faultwalk" : "walk");
        var rabbit = await TestRabbitMq.GetAsync();
        var vhost = await rabbit.CreateVirtualHostAsync(faults ? "faultwalk" : "walk");
        await LegacyFleet.SeedAsync(database, SeededAgents, dirty: true);
        await Sql.ExecuteAsync(database, LoadWriter.SeedAgents(Writers, AgentsPerWriter));
        // The test's own queries open fresh connections: a pooled one would be cut by the database restart. (A pool
        // of its own, too: the services' pools — keyed by connection string — must meet the restart unaided.)
        var observer = new Npgsql.NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString;
        var counts = await CountsAsync(observer);

        await using var agentsA = new FleetServiceFactory<AgentResponse>(database, vhost, ServiceSettings);
        await using var agentsB = new FleetServiceFactory<AgentResponse>(database, vhost, ServiceSettings);
        await using var machines = new FleetServiceFactory<CustomMachineResponse>(database, vhost, ServiceSettings);
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, vhost, ServiceSettings);
        await using var snapshots = new FleetServiceFactory<SnapshotResponse>(database, vhost, ServiceSettings);
        var control = new FleetServiceFactory<MigrationStatus>(database, amqpUri: null, ControlSettings);
        HttpClient Ops() => control.ClientFor(TestTokens.Operator());
        // Cancelled on the way out however the walk ends: a failed walk must not leave its writers loading the next one.
        using var stop = new CancellationTokenSource();
        try
        {
            _ = agentsA.Server;
            _ = agentsB.Server;
            _ = machines.Server;
            _ = pool.Server;
            _ = snapshots.Server;
            _ = control.Server;
            await LoadWriter.AllAcknowledgedAsync(observer, 5);

            var statuses = new ConcurrentDictionary<int, int>();
            var writers = Enumerable.Range(0, Writers).Select(w => new LoadWriter(w, AgentsPerWriter,
                [agentsA.ClientFor(TestTokens.User($"w{w}")), agentsB.ClientFor(TestTokens.User($"w{w}"))],
                [machines.ClientFor(TestTokens.User($"w{w}"))], snapshots.ClientFor(TestTokens.User($"w{w}")), statuses)).ToList();
            var load = writers.Select(writer => Task.Run(() => writer.RunAsync(stop.Token))).ToArray();
            var steps = new List<string>();

            async Task FlipAsync(string target)
            {
                await Eventually.TrueAsync(async () =>
                    {
                        using var flip = await Ops().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest(target, "fault walk", false));
                        return flip.StatusCode == HttpStatusCode.OK;
                    }, TimeSpan.FromSeconds(30), $"the flip to {target} was refused");
                await LoadWriter.AllAcknowledgedAsync(observer, 5);
                await ProgressAsync(writers, target);
                steps.Add(target);
            }

            async Task BackfillAsync(bool killMidRun)
            {
                (await Ops().PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
                if (killMidRun)
                {
                    await Eventually.TrueAsync(async () => (await Ops().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill is
                        { State: BackfillStates.Running, RowsDone: > 0 }, TimeSpan.FromSeconds(30), "the backfill did not get going");
                    var before = (await Ops().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill;
                    await control.DisposeAsync();
                    control = new FleetServiceFactory<MigrationStatus>(database, amqpUri: null, ControlSettings);
                    _ = control.Server;
                    steps.Add($"backfill killed at {before.RowsDone}/{before.RowsTotal} ({before.Step})");
                }

                BackfillProgress? last = null;
                await Eventually.TrueAsync(async () =>
                    {
                        last = (await Ops().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill;
                        return last.State == BackfillStates.Done;
                    }, TimeSpan.FromMinutes(3),
                    () => $"the backfill did not finish (last seen: {last?.State} at {last?.Step}, {last?.RowsDone}/{last?.RowsTotal}, error: {last?.Error})");
                steps.Add($"backfill done ({(last!.FinishedAt - last.StartedAt)?.TotalSeconds:0.#} s)");
            }

            async Task VerifyCleanAsync(string when)
            {
                var summary = await (await Ops().PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
                Assert.True(summary!.Clean, $"{when}: " + string.Join(", ", summary.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
                steps.Add($"verified clean ({when})");
            }

            await FlipAsync("DualWrite");
            await BackfillAsync(killMidRun: faults);

            if (faults)
            {
                // The broker away for 30 s: writes commit with their events in the outbox, delivered once it is back.
                await rabbit.StopAsync();
                try
                {
                    await ProgressAsync(writers, "RabbitMQ down");
                    await Task.Delay(TimeSpan.FromSeconds(30)); // the outage's length, not a wait for anything
                }
                finally
                {
                    await rabbit.StartAgainAsync();
                }

                steps.Add("RabbitMQ stopped 30 s");
            }

            await VerifyCleanAsync("DualWrite");
            await FlipAsync("MachineRead");

            if (faults)
            {
                // PostgreSQL restarted with every service and writer running: requests meanwhile get 503 + Retry-After.
                await postgres.RestartAsync(TimeSpan.FromSeconds(2));
                await ProgressAsync(writers, "after the PostgreSQL restart");
                steps.Add("PostgreSQL restarted");
            }

            await VerifyCleanAsync("MachineRead");

            // The control service stopped while a flip is in flight: the flip commits whole or not at all.
            await Eventually.TrueAsync(async () => (await Ops().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Phases.Next is { Open: true },
                TimeSpan.FromSeconds(30), "the MachineOnly gates did not open");
            if (!faults)
            {
                await FlipAsync("MachineOnly");
            }
            else
            {
                var inFlight = Ops().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("MachineOnly", "fault walk: control restarted", false));
                await control.DisposeAsync();
                control = new FleetServiceFactory<MigrationStatus>(database, amqpUri: null, ControlSettings);
                _ = control.Server;
                // The in-flight request ends one way or the other (answered, or cut by the stop); its outcome is read from
                // the stored phase below, not from the response.
                await Task.WhenAny(inFlight);
                var stored = await Sql.StringAsync(observer, "SELECT phase FROM migration_phase");
                steps.Add($"control restarted during the flip (stored phase after: {stored})");
                Assert.Contains(stored, new[] { "MachineRead", "MachineOnly" });
                if (stored == "MachineRead")
                {
                    await FlipAsync("MachineOnly");
                }
                else
                {
                    await LoadWriter.AllAcknowledgedAsync(observer, 5);
                }
            }

            // Back (reverse sync), and forward again.
            await FlipAsync("MachineRead");
            await VerifyCleanAsync("after the reverse sync");
            await FlipAsync("DualWrite");
            await BackfillAsync(killMidRun: false);
            await VerifyCleanAsync("DualWrite, again");
            await FlipAsync("MachineRead");
            await VerifyCleanAsync("MachineRead, again");
            await Eventually.TrueAsync(async () => (await Ops().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Phases.Next is { Open: true },
                TimeSpan.FromSeconds(30), "the MachineOnly gates did not open again");
            await FlipAsync("MachineOnly");

            // The contract: every dirty row the backfill quarantined resolved by a recorded decision, the soak passed,
            // then the one-way flip — and the control service stopped in the middle of the contract set.
            var dirty = (await DirtyReports.AllAsync(Ops(), "state=open")).DistinctBy(d => (d.Entity, d.EntityId)).ToList();
            foreach (var row in dirty)
            {
                (await Ops().PostAsJsonAsync("/api/migration/dirty/resolve",
                    new DirtyResolution(row.Entity, row.EntityId, null, "fault walk: the legacy row goes as it is"))).EnsureSuccessStatusCode();
            }

            steps.Add($"{dirty.Count} dirty rows resolved");
            // The seeded agents' relation (no client touches them): the contract copies it, in batches, under the
            // legacy column's name.
            var relationBefore = await Sql.StringAsync(observer, AgentRelation.FingerprintSql("machine_ref", SeededAgentsOnly));
            await Eventually.TrueAsync(async () => (await Ops().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Phases.Next is
                { Target: "Contracted", Open: true }, TimeSpan.FromSeconds(60), "the contract's gates did not open");
            using (var contract = await Ops().PostAsJsonAsync("/api/migration/phase",
                       new PhaseFlipRequest("Contracted", "fault walk: soak passed", false, ConfirmOneWay: true)))
            {
                Assert.Equal(HttpStatusCode.OK, contract.StatusCode);
            }

            var appliedBeforeStop = (long)ContractSql.Steps.Count;
            if (faults)
            {
                await Eventually.TrueAsync(async () => (await Ops().GetFromJsonAsync<List<ContractStepState>>("/api/migration/contract"))!
                    .Count(c => c.FinishedAt is not null) >= 3, TimeSpan.FromSeconds(60), "the contract set did not start");
                await control.DisposeAsync();
                appliedBeforeStop = await Sql.ScalarAsync(observer, "SELECT count(*) FROM migration_contract_steps WHERE finished_at IS NOT NULL");
                control = new FleetServiceFactory<MigrationStatus>(database, amqpUri: null, ControlSettings);
                _ = control.Server;
            }

            await Eventually.TrueAsync(async () => (await Ops().GetFromJsonAsync<List<ContractStepState>>("/api/migration/contract"))!
                .All(c => c.FinishedAt is not null), TimeSpan.FromMinutes(2), "the contract set was not finished");
            var attempts = await Sql.ScalarAsync(observer, "SELECT sum(attempts) FROM migration_contract_steps");
            var tookMs = await Sql.ScalarAsync(observer,
                "SELECT (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::bigint FROM migration_contract_steps");
            steps.Add($"Contracted ({ContractSql.Steps.Count} steps in {tookMs} ms with 300 ms pauses, {attempts} attempts in all" +
                      (faults ? $"; control stopped after {appliedBeforeStop}" : "") + $"; relation copied for {relationBefore!.Split(':')[0]} seeded agents)");
            await ProgressAsync(writers, "Contracted");
            Assert.Equal(relationBefore, await Sql.StringAsync(observer, AgentRelation.FingerprintSql("machine_id", SeededAgentsOnly)));
            Assert.StartsWith("holding=", relationBefore);
            Assert.DoesNotContain("holding=0:", relationBefore);

            await stop.CancelAsync();
            await Task.WhenAll(load);
            output.WriteLine("steps: " + string.Join(" → ", steps));
            output.WriteLine($"statuses: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}"))}");

            // No 500 ever; 503 (with Retry-After) only with faults injected — the database restart.
            Assert.DoesNotContain(statuses.Keys, s => s >= 500 && (s != 503 || !faults));
            Assert.True(writers.Sum(x => x.Succeeded) > 500, "too little load to mean anything");
            await AcknowledgedWritesFoundAsync(writers, agentsA, machines, snapshots);
            var after = await CountsAsync(observer);
            Assert.Equal(counts.Agents, after.Agents);
            Assert.True(after.Snapshots >= counts.Snapshots + writers.Sum(w => w.Snapshots.Count), "snapshots lost");
            Assert.True(after.HealthChecks >= counts.HealthChecks, "health checks lost");
            Assert.Equal("Contracted", await Sql.StringAsync(observer, "SELECT phase FROM migration_phase"));
            // One machine column is left on agents: the relation, under the legacy column's name.
            Assert.Equal("machine_id", await Sql.StringAsync(observer,
                "SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_name = 'agents' AND column_name LIKE 'machine\\_%'"));
            Assert.Equal(0, await Sql.ScalarAsync(observer,
                "SELECT count(*) FROM machine_snapshots s WHERE NOT EXISTS (SELECT 1 FROM machines m WHERE m.id = s.machine_ref)"));
        }
        finally
        {
            await stop.CancelAsync();
            await control.DisposeAsync();
        }
    }

    /// <summary>Through the API (the legacy columns are gone by now): what each client was told is what is there.</summary>
    private static async Task AcknowledgedWritesFoundAsync(List<LoadWriter> writers, FleetServiceFactory<AgentResponse> agents,
        FleetServiceFactory<CustomMachineResponse> machines, FleetServiceFactory<SnapshotResponse> snapshots)
    {
        var lost = new List<string>();
        for (var w = 0; w < writers.Count; w++)
        {
            using var agentsClient = agents.ClientFor(TestTokens.User($"w{w}"));
            using var machinesClient = machines.ClientFor(TestTokens.User($"w{w}"));
            using var snapshotsClient = snapshots.ClientFor(TestTokens.User($"w{w}"));
            lost.AddRange((await writers[w].CheckLedgerAsync(agentsClient, machinesClient, snapshotsClient)).Lost);
        }

        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged write(s) lost: {string.Join("; ", lost.Take(20))}");
    }

    private static async Task<(long Agents, long Snapshots, long HealthChecks)> CountsAsync(string database) => (
        await Sql.ScalarAsync(database, "SELECT count(*) FROM agents"),
        await Sql.ScalarAsync(database, "SELECT count(*) FROM machine_snapshots"),
        await Sql.ScalarAsync(database, "SELECT count(*) FROM machine_health_checks"));

    private static async Task ProgressAsync(List<LoadWriter> writers, string when)
    {
        var before = writers.Sum(x => x.Succeeded);
        await Eventually.TrueAsync(() => Task.FromResult(writers.Sum(x => x.Succeeded) > before + 100), TimeSpan.FromSeconds(60),
            $"writes stalled ({when})");
    }

}
