using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Apis;
using FleetAspire.Names;
using FleetAspire.Testing;
using Xunit.Abstractions;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// The migration as an outside operator walks it: the real AppHost (<c>dotnet run --project AppHost</c>, through
/// Aspire.Hosting.Testing — not hand-wired services), a dirty legacy fleet of 20,000 agents seeded with plain SQL (every
/// class of dirt the backfill knows), a dozen API clients keeping a ledger of every write they were acknowledged, the
/// README runbook followed through the control API on :5105 — dual-write, backfill, verify, MachineRead, the quiet
/// period, MachineOnly, a rollback and forward again, dirty rows resolved by class, the soak, the one-way contract —
/// with a service and the control service SIGKILLed on the way (the AppHost starts them again). Never forced; at the
/// end every acknowledged write is read back through the API. Last line: <c>walk forced=0 lost=0 5xx=0 contracted=true</c>.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class OperatorWalkTests(ITestOutputHelper output)
{
    private const int Clients = 12;
    private const int AgentsPerClient = 6;
    private const int SeededAgents = 20_000;
    private const int PoolTarget = 1000;
    /// <summary>The services that register as instances of the fleet (the control service does not write the fleet).</summary>
    private const int Instances = 4;
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(15);

    /// <summary>Client w acts as seeded user <c>user_w</c>: its four legacy agents (some dirty) and six of its own.</summary>
    private static string UserOf(int client) => $"user_{client}";

    private static IEnumerable<string> SeededAgentsOf(int client) =>
        Enumerable.Range(0, SeededAgents / 5000).Select(k => $"agt_{client + k * 5000}").Where(id => id != "agt_0")
            .Concat(Enumerable.Range(1, OperatorDirt.PerClass / 2).Where(n => n == client)
                .SelectMany(n => new[] { $"agd_type_{n}", $"agd_nokey_{n}", $"agd_dupip_a_{n}", $"agd_held_{n}", $"agd_samehost_{n}", $"agd_ip_{n}" }));

    [Fact]
    public async Task An_operator_walks_a_dirty_fleet_through_the_AppHost_to_Contracted_unforced_and_no_acknowledged_write_is_lost()
    {
        var clock = Stopwatch.StartNew();
        var steps = new List<string>();
        void Step(string what)
        {
            steps.Add(what);
            output.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0} s] {what}");
        }

        await using var run = await AppHostRun.StartAsync<Projects.FleetAspire_AppHost>(
        [
            $"Phases:QuietPeriod={Quiet:c}",
            $"Phases:ContractSoak={Quiet:c}",
            "Phases:OldCodeWindow=00:00:10",
        ]);
        Step("AppHost started, five services healthy");
        var database = (await run.ConnectionStringAsync(ResourceNames.FleetDatabase))!;
        var observer = new Npgsql.NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString;

        // Dirt of the operator's own, by plain SQL, while the services run in Legacy.
        await LegacyFleet.SeedAsync(observer, SeededAgents, dirty: true);
        // Half of it owned by the clients' users (they claim, release and snapshot dirty agents, and a release may clean
        // one up), half by a user nobody acts for (so every class is still there when the backfill looks).
        await Sql.ExecuteAsync(observer, OperatorDirt.Sql(n => n <= OperatorDirt.PerClass / 2 ? UserOf(n) : "dirt_owner"));
        await Sql.ExecuteAsync(observer, LoadWriter.SeedAgents(Clients, AgentsPerClient, UserOf));
        var agentsBefore = await Sql.ScalarAsync(observer, "SELECT count(*) FROM agents");
        Step($"seeded {agentsBefore} agents with dirt in every class");

        var statuses = new ConcurrentDictionary<int, int>();
        HttpClient Ops() => run.Client(ResourceNames.Migration, TestTokens.Operator(), TimeSpan.FromSeconds(60));
        async Task<T> OperatorAsync<T>(Func<HttpClient, Task<HttpResponseMessage>> call, Func<HttpResponseMessage, Task<T>> read)
        {
            using var ops = Ops();
            using var response = await call(ops);
            statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
            return await read(response);
        }

        async Task<MigrationStatus> StatusAsync() =>
            await OperatorAsync(ops => ops.GetAsync("/api/migration"), async r => (await r.Content.ReadFromJsonAsync<MigrationStatus>())!);

        using (var pool = run.Client(ResourceNames.Pool, TestTokens.Operator()))
        {
            (await pool.PutAsJsonAsync("/api/pool/target", new { targetSize = PoolTarget })).EnsureSuccessStatusCode();
        }

        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, Clients).Select(w => new LoadWriter(w, AgentsPerClient,
            [run.Client(ResourceNames.Agents, TestTokens.User(UserOf(w)))], [run.Client(ResourceNames.Machines, TestTokens.User(UserOf(w)))],
            run.Client(ResourceNames.Snapshots, TestTokens.User(UserOf(w))), statuses, SeededAgentsOf(w))).ToList();
        var load = writers.Select(writer => Task.Run(() => writer.RunAsync(stop.Token))).ToArray();
        try
        {
            await ProgressAsync(writers, "clients started in Legacy");

            async Task FlipAsync(string target, bool oneWay = false)
            {
                try
                {
                    await Eventually.TrueAsync(async () => (await StatusAsync()).Phases is var p
                                                           && (p.Next is { Open: true } next && next.Target == target
                                                               || p.Previous is { Open: true } previous && previous.Target == target),
                        TimeSpan.FromMinutes(2), $"the gates to {target} did not open");
                }
                catch (TimeoutException ex)
                {
                    throw new TimeoutException($"{ex.Message}: {await GatesAsync(Ops(), target)}", ex);
                }

                var flipped = await OperatorAsync(ops => ops.PostAsJsonAsync("/api/migration/phase",
                    new PhaseFlipRequest(target, "operator walk (runbook)", Force: false, ConfirmOneWay: oneWay)), r => Task.FromResult(r.StatusCode));
                Assert.Equal(HttpStatusCode.OK, flipped);
                await LoadWriter.AllAcknowledgedAsync(observer, Instances);
                await ProgressAsync(writers, target);
                Step(target);
            }

            async Task VerifyCleanAsync(string when)
            {
                var summary = await OperatorAsync(ops => ops.PostAsync("/api/migration/verify", null),
                    async r => (await r.Content.ReadFromJsonAsync<VerificationSummary>())!);
                if (!summary.Clean)
                {
                    using var ops = Ops();
                    var open = new List<DivergenceRecord>();
                    foreach (var kind in summary.OpenByKind.Keys)
                    {
                        open.AddRange((await ops.GetFromJsonAsync<Page<DivergenceRecord>>($"/api/migration/divergences?state=open&kind={kind}&limit=15"))!.Items);
                    }

                    Assert.Fail($"{when}: " + string.Join(", ", summary.OpenByKind.Select(k => $"{k.Key}={k.Value}")) + "\n" +
                                string.Join("\n", open.Select(d => $"  {d.Entity} {d.EntityId} {d.Field} {d.Kind} legacy={d.LegacyValue} machine={d.MachineValue} source={d.Source}")));
                }

                Step($"verified clean ({when}, {summary.Duration.TotalSeconds:0.0} s)");
            }

            // 1–3: dual-write, backfill, verify.
            await FlipAsync("DualWrite");
            Assert.Equal(HttpStatusCode.Accepted, await OperatorAsync(ops => ops.PostAsync("/api/migration/backfill/start", null), r => Task.FromResult(r.StatusCode)));
            BackfillProgress? last = null;
            await Eventually.TrueAsync(async () => (last = (await StatusAsync()).Backfill).State == BackfillStates.Done, TimeSpan.FromMinutes(5),
                () => $"the backfill did not finish (last seen: {last?.State} at {last?.Step}, {last?.RowsDone}/{last?.RowsTotal}, error: {last?.Error})");
            Step($"backfill done ({(last!.FinishedAt - last.StartedAt)?.TotalSeconds:0.0} s, {last.RowsDone} rows)");

            // Every class of dirt reported, paged through as a script would; nothing for one host on different ports.
            using (var ops = Ops())
            {
                var dirty = await DirtyReports.AllAsync(ops, "state=open", pageSize: 50);
                var classes = dirty.Select(d => (d.Class, d.Entity)).ToHashSet();
                Assert.Empty(OperatorDirt.Expected.Except(classes));
                Assert.DoesNotContain(dirty, d => d.EntityId.Contains("samehost", StringComparison.Ordinal));
                Step($"{dirty.Count} dirty rows in {classes.Count} classes, read in pages of 50");
            }

            await VerifyCleanAsync("DualWrite");

            // A service SIGKILLed under load: its port refuses at once, the AppHost starts it again, clients carry on.
            var killed = run.Kill(ResourceNames.Agents);
            await run.WaitRestartedAsync(ResourceNames.Agents, killed, TimeSpan.FromMinutes(2));
            await LoadWriter.AllAcknowledgedAsync(observer, Instances);
            await ProgressAsync(writers, "after the agents service was killed");
            Step("agents SIGKILLed and started again by the AppHost");

            // 4–6: MachineRead, the quiet period, MachineOnly — with the control service SIGKILLed during the soak.
            await FlipAsync("MachineRead");
            var control = run.Kill(ResourceNames.Migration);
            await run.WaitRestartedAsync(ResourceNames.Migration, control, TimeSpan.FromMinutes(2));
            Step("control service SIGKILLed and started again by the AppHost");
            await Eventually.TrueAsync(async () => DateTimeOffset.UtcNow - (await StatusAsync()).Phases.Since > Quiet, Quiet * 4, "the quiet period did not pass");
            await VerifyCleanAsync("MachineRead");
            await FlipAsync("MachineOnly");

            // Back one step (the reverse sync) and forward again, as an operator who met a problem would.
            await FlipAsync("MachineRead");
            await Eventually.TrueAsync(async () => DateTimeOffset.UtcNow - (await StatusAsync()).Phases.Since > Quiet, Quiet * 4, "the quiet period did not pass");
            await VerifyCleanAsync("MachineRead, after the reverse sync");
            await FlipAsync("MachineOnly");

            // 7: dirty rows. The contract's own (tombstones) are closed by the flip; the operator decides the rest by class.
            using (var ops = Ops())
            {
                Assert.Empty(await DirtyReports.AllAsync(ops, "state=open&handling=tombstone"));
                var open = await DirtyReports.AllAsync(ops, "state=open");
                foreach (var cls in open.Select(d => d.Class).Distinct())
                {
                    var resolved = await OperatorAsync(o => o.PostAsJsonAsync("/api/migration/dirty/resolve-all",
                        new DirtyBulkResolution(cls, null, $"operator walk: {cls} rows go as they are (documented handling)")),
                        async r => (await r.Content.ReadFromJsonAsync<DirtyBulkResolved>())!);
                    Assert.True(resolved.Resolved > 0);
                }

                Assert.Empty(await DirtyReports.AllAsync(ops, "state=open"));
                Step($"{open.Count} dirty rows resolved in {open.Select(d => d.Class).Distinct().Count()} bulk resolutions");
            }

            // 8–9: the soak, then the one-way contract, applied by the control service.
            await FlipAsync("Contracted", oneWay: true);
            List<ContractStepState>? contract = null;
            await Eventually.TrueAsync(async () => (contract = (await StatusAsync()).Contract.ToList()).All(c => c.FinishedAt is not null),
                TimeSpan.FromMinutes(3), () => $"the contract set was not finished: {contract?.Count(c => c.FinishedAt is not null)}/{contract?.Count}");
            await ProgressAsync(writers, "Contracted");
            Step($"contract set applied ({contract!.Count} steps)");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(load);
        }

        // The ledger: every acknowledged write, read back through the API; every observed-only agent that changed must be
        // a quarantined dirty row whose class says it loses its machine.
        var (lost, drift) = (new List<string>(), new List<LedgerDrift>());
        for (var w = 0; w < Clients; w++)
        {
            using var agents = run.Client(ResourceNames.Agents, TestTokens.User(UserOf(w)));
            using var machines = run.Client(ResourceNames.Machines, TestTokens.User(UserOf(w)));
            using var snapshots = run.Client(ResourceNames.Snapshots, TestTokens.User(UserOf(w)));
            var (l, d) = await writers[w].CheckLedgerAsync(agents, machines, snapshots);
            lost.AddRange(l);
            drift.AddRange(d);
        }

        // Drift is explained only by the documented handling of a quarantined dirty row: the agent's own report, or the
        // report of the custom machine it named.
        var unexplained = new List<string>();
        foreach (var entry in drift)
        {
            var reported = await Sql.StringAsync(observer, """
                SELECT string_agg(class, ',') FROM migration_dirty_rows
                WHERE quarantined AND ((entity = 'agents' AND entity_id = @agent) OR (entity = 'custom_machines' AND entity_id = @machine))
                """, ("agent", entry.Agent), ("machine", entry.Read ?? ""));
            if (reported is null)
            {
                unexplained.Add($"agent {entry.Agent}: read {entry.Read ?? "none"}, now {entry.Now ?? "none"} (no dirty report explains it)");
            }
        }

        var forced = await OperatorAsync(ops => ops.GetAsync("/api/migration/history?limit=100"),
            async r => (await r.Content.ReadFromJsonAsync<List<JsonElement>>())!.Count(e => e.GetProperty("forced").GetBoolean()));
        var server5xx = statuses.Where(s => s.Key >= 500).Sum(s => s.Value);
        var contracted = await Sql.StringAsync(observer, "SELECT phase FROM migration_phase") == "Contracted";
        output.WriteLine("steps: " + string.Join(" → ", steps));
        output.WriteLine($"statuses: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}"))}");
        output.WriteLine($"ledger: writes acknowledged={writers.Sum(x => x.Succeeded)} unknown-outcome={writers.Sum(x => x.Unknown)} " +
                         $"lost={lost.Count} drift={drift.Count} (quarantined dirt: {drift.Count - unexplained.Count})");
        foreach (var entry in lost.Concat(unexplained).Take(30))
        {
            output.WriteLine("  " + entry);
        }

        Assert.True(writers.Sum(x => x.Succeeded) > 1000, "too little load to mean anything");
        Assert.Equal(agentsBefore, await Sql.ScalarAsync(observer, "SELECT count(*) FROM agents"));
        output.WriteLine($"walk forced={forced} lost={lost.Count} 5xx={server5xx} contracted={(contracted ? "true" : "false")}");
        Assert.Empty(lost);
        Assert.Empty(unexplained);
        Assert.Equal(0, forced);
        Assert.Equal(0, server5xx);
        Assert.True(contracted);
    }

    private static async Task<string> GatesAsync(HttpClient ops, string target)
    {
        using (ops)
        {
            var phases = (await ops.GetFromJsonAsync<JsonElement>("/api/migration")).GetProperty("phases");
            var readiness = new[] { phases.GetProperty("next"), phases.GetProperty("previous") }
                .FirstOrDefault(r => r.ValueKind == JsonValueKind.Object && r.GetProperty("target").GetString() == target);
            return readiness.ValueKind != JsonValueKind.Object ? $"{target} is not next or previous"
                : string.Join("; ", readiness.GetProperty("gates").EnumerateArray().Where(g => !g.GetProperty("passed").GetBoolean())
                    .Select(g => $"{g.GetProperty("gate").GetString()}: {g.GetProperty("detail").GetString()}"));
        }
    }

    private static async Task ProgressAsync(List<LoadWriter> writers, string when)
    {
        var before = writers.Sum(x => x.Succeeded);
        await Eventually.TrueAsync(() => Task.FromResult(writers.Sum(x => x.Succeeded) > before + 100), TimeSpan.FromSeconds(90),
            $"writes stalled ({when})");
    }
}
