using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Machines.Apis;
using FleetAspire.Migration.Apis;
using FleetAspire.Testing;
using Npgsql;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// Two replicas of the agents and machines services, 32 concurrent writers, and the phase flipped back and forth
/// between <c>Legacy</c> and <c>DualWrite</c>, then through <c>MachineRead</c> to <c>MachineOnly</c> and back to
/// <c>DualWrite</c> (reverse sync included) underneath them.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class PhaseFlipUnderLoadTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Writers = 32;
    private const int AgentsPerWriter = 12;

    [Fact]
    public async Task Flips_under_32_writers_on_two_replicas_lose_no_write_cause_no_500_and_leave_both_representations_agreeing()
    {
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("flipload");
        var vhost = await rabbit.CreateVirtualHostAsync("flipload");
        await Sql.ExecuteAsync(database, $"""
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT 'pm_' || i, (40000000 + i)::text, 'pool-' || i, '10.40.' || (i / 250) || '.' || (i % 250), 'ready', 'key-' || md5(i::text),
                   now() - interval '1 hour' + i * interval '1 ms', now()
            FROM generate_series(1, 5000) i;
            {LoadWriter.SeedAgents(Writers, AgentsPerWriter)}
            """);
        var settings = new Dictionary<string, string?>
        {
            ["Pool:ReconcilerEnabled"] = "false",
            ["HealthChecks:SweeperEnabled"] = "false",
            ["MachineTransition:PollInterval"] = "00:00:00.200",
        };
        await using var agentsA = new FleetServiceFactory<AgentResponse>(database, vhost, settings);
        await using var agentsB = new FleetServiceFactory<AgentResponse>(database, vhost, settings);
        await using var machinesA = new FleetServiceFactory<CustomMachineResponse>(database, vhost, settings);
        await using var machinesB = new FleetServiceFactory<CustomMachineResponse>(database, vhost, settings);
        await using var control = new FleetServiceFactory<MigrationStatus>(database, amqpUri: null, new Dictionary<string, string?>
        {
            ["Backfill:Pause"] = "00:00:00",
            ["Verification:IncrementalInterval"] = "00:00:00",
            ["Phases:QuietPeriod"] = "00:00:01",
        });
        _ = agentsA.Server;
        _ = agentsB.Server;
        _ = machinesA.Server;
        _ = machinesB.Server;
        using var ops = control.ClientFor(TestTokens.Operator());
        await LoadWriter.AllAcknowledgedAsync(database, expectedInstances: 4);

        var statuses = new ConcurrentDictionary<int, int>();
        var writers = Enumerable.Range(0, Writers).Select(w => new LoadWriter(w, AgentsPerWriter,
            [agentsA.ClientFor(TestTokens.User($"w{w}")), agentsB.ClientFor(TestTokens.User($"w{w}"))],
            [machinesA.ClientFor(TestTokens.User($"w{w}")), machinesB.ClientFor(TestTokens.User($"w{w}"))], snapshots: null, statuses)).ToList();
        using var stop = new CancellationTokenSource();
        var load = writers.Select(writer => Task.Run(() => writer.RunAsync(stop.Token))).ToArray();

        // Forward and back between Legacy and DualWrite, then through every phase to MachineOnly and back to
        // DualWrite, while they write; each flip through the API (gates and all) once every instance runs the epoch.
        var followTimes = new List<TimeSpan>();
        async Task FlipAsync(string target)
        {
            await Eventually.TrueAsync(() => Task.FromResult(writers.Sum(x => x.Succeeded) > 0), TimeSpan.FromSeconds(10), "writers made no progress");
            var before = writers.Sum(x => x.Succeeded);
            var flip = await ops.PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest(target, "load test", false));
            Assert.True(flip.StatusCode == HttpStatusCode.OK, $"flip to {target}: {await flip.Content.ReadAsStringAsync()}");
            var flippedAt = DateTimeOffset.UtcNow;
            await LoadWriter.AllAcknowledgedAsync(database, expectedInstances: 4);
            followTimes.Add(DateTimeOffset.UtcNow - flippedAt);
            // Let writes land in this phase before the next flip.
            await Eventually.TrueAsync(() => Task.FromResult(writers.Sum(x => x.Succeeded) > before + 200), TimeSpan.FromSeconds(30),
                $"writes stalled in {target}");
        }

        async Task VerifyCleanAsync(string when)
        {
            var summary = await (await ops.PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
            Assert.True(summary!.Clean, $"{when}: " + string.Join(", ", summary.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
        }

        foreach (var target in new[] { "DualWrite", "Legacy", "DualWrite" })
        {
            await FlipAsync(target);
        }

        // Writes from the Legacy periods reach Machine through a backfill started now (every instance dual-writes).
        (await ops.PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == BackfillStates.Done,
            TimeSpan.FromSeconds(60), "the backfill did not finish");
        await VerifyCleanAsync("after the backfill, in DualWrite");
        await FlipAsync("MachineRead");
        await VerifyCleanAsync("in MachineRead");
        // The quiet period (1 s here) must pass with that clean verification inside it.
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Phases.Next is { Open: true },
            TimeSpan.FromSeconds(10), "the MachineOnly gates did not open");
        await FlipAsync("MachineOnly");
        await FlipAsync("MachineRead");
        await VerifyCleanAsync("after the reverse sync");
        await FlipAsync("DualWrite");

        await stop.CancelAsync();
        await Task.WhenAll(load);
        output.WriteLine($"statuses: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}"))}; " +
                         $"acknowledged flips in {string.Join(", ", followTimes.Select(t => $"{t.TotalMilliseconds:0} ms"))}");

        // Back in DualWrite after MachineOnly: both representations agree on everything the writers did.
        var verification = await (await ops.PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();

        Assert.DoesNotContain(statuses.Keys, s => s >= 500);
        Assert.All(followTimes, t => Assert.True(t < TimeSpan.FromSeconds(2), $"an acknowledgement took {t.TotalMilliseconds:0} ms"));
        Assert.True(writers.Sum(x => x.Succeeded) > 500, "too little load to mean anything");
        // Every write a client got a success for is there: each writer owns its agents and machines, so its own
        // record of the last success is the truth.
        foreach (var writer in writers)
        {
            foreach (var (agent, machine) in writer.AgentMachines)
            {
                Assert.Equal(machine, await Sql.StringAsync(database, "SELECT machine_id FROM agents WHERE id = @id", ("id", agent)));
            }

            foreach (var custom in writer.CustomMachines)
            {
                Assert.Equal(custom, await Sql.StringAsync(database, "SELECT id FROM custom_machines WHERE id = @id", ("id", custom)));
            }
        }

        Assert.True(verification!.Clean, "divergences: " + string.Join(", ", verification.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
    }

}
