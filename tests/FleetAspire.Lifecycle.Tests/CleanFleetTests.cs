using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Apis;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>Every read and every dual-write compared with the other side.</summary>
public sealed class CleanFleet : PhaseFleet
{
    protected override Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["MachineTransition:PollInterval"] = "00:00:00.200",
        ["MachineTransition:Shadow:DualWriteRate"] = "100",
        ["MachineTransition:Shadow:MachineReadRate"] = "100",
        ["MachineTransition:Shadow:WriteCheckRate"] = "100",
        ["MachineTransition:Shadow:QueueCapacity"] = "4096",
    };
}

/// <summary>
/// False alarms are as costly as missed divergences: an operator who learns to ignore the dashboard misses the real
/// one. A clean legacy fleet of 100,000 agents, backfilled, yields zero divergences from every source — the verifier
/// (full and incremental), shadow reads of every agent, custom machine and pool machine in both phases that shadow,
/// write checks of every dual-write, and the old-code classification.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class CleanFleetTests(CleanFleet fleet, ITestOutputHelper output) : IClassFixture<CleanFleet>
{
    private const int Agents = 100_000;

    [Fact]
    public async Task A_clean_fleet_of_100000_agents_yields_zero_divergences_from_every_source()
    {
        await LegacyFleet.SeedAsync(fleet.Database, Agents, dirty: false);
        using var ops = fleet.Control.ClientFor(TestTokens.Operator());
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        (await ops.PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == BackfillStates.Done,
            TimeSpan.FromMinutes(3), "the backfill did not finish");
        Assert.Empty(await DirtyReports.AllAsync(ops));

        var full = await (await ops.PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        Assert.True(full!.Clean, "verifier: " + string.Join(", ", full.OpenByKind.Select(k => $"{k.Key}={k.Value}")));

        // Dual-writes through the API, every one checked after commit (claims from the seeded pool of ready servers).
        var writes = 0;
        for (var i = 0; i < 20; i++)
        {
            var agent = await fleet.CreateAgentAsync($"clean-{i}");
            using var user = fleet.AgentsAs(TestTokens.User($"clean-{i}"));
            (await user.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();
            (await user.PostAsync($"/api/agents/{agent.Id}/release", null)).EnsureSuccessStatusCode();
            await fleet.RegisterMachineAsync($"clean-{i}");
            writes += 4;
        }

        var dualWriteReads = await ReadEverythingAsync("DualWrite");
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        var machineReadReads = await ReadEverythingAsync("MachineRead");

        var incremental = await (await ops.PostAsync("/api/migration/verify?mode=incremental", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        full = await (await ops.PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        var bySource = await SourcesAsync();
        output.WriteLine($"agents={Agents} reads: DualWrite={dualWriteReads} MachineRead={machineReadReads} dual-writes={writes} " +
                         $"compared={Compared()} dropped={Dropped()} divergences={string.Join(", ", bySource)}");

        Assert.True(incremental!.Clean && full!.Clean, "verifier after the reads and writes");
        Assert.Empty(bySource);
        Assert.Equal(0, Dropped());
        Assert.True(Compared() >= dualWriteReads + machineReadReads + writes / 2, $"only {Compared()} comparisons ran");
    }

    /// <summary>
    /// Every agent, custom machine and pool machine, page by page as an operator lists them, and the snapshots and
    /// health checks of a sample of machines; then waits for the comparisons. Returns the number of reads.
    /// </summary>
    private async Task<int> ReadEverythingAsync(string phase)
    {
        var pages = 0;
        using var agents = fleet.AgentsAs(TestTokens.Operator());
        using var machines = fleet.MachinesAs(TestTokens.Operator());
        using var pool = fleet.Pool.ClientFor(TestTokens.Operator());
        foreach (var (client, path) in new[] { (agents, "/api/agents"), (machines, "/api/machines/custom"), (pool, "/api/pool/machines") })
        {
            for (string? after = null; ; pages++)
            {
                var page = await client.GetFromJsonAsync<JsonElement>($"{path}?limit=100" + (after is null ? "" : $"&after={after}"));
                after = page.GetProperty("nextCursor").GetString();
                if (after is null)
                {
                    pages++;
                    break;
                }
            }
        }

        // Children by machine, for a sample of held machines of both types (every agent's would be 50,000 requests).
        using var snapshots = fleet.SnapshotsAs(TestTokens.Operator());
        await using var connection = new Npgsql.NpgsqlConnection(fleet.Database);
        await connection.OpenAsync();
        await using var sample = new Npgsql.NpgsqlCommand("SELECT machine_id FROM agents WHERE machine_id IS NOT NULL ORDER BY md5(id) LIMIT 200", connection);
        var held = new List<string>();
        await using (var reader = await sample.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                held.Add(reader.GetString(0));
            }
        }

        foreach (var machineId in held)
        {
            Assert.NotEmpty((await snapshots.GetFromJsonAsync<List<JsonElement>>($"/api/snapshots?machineId={machineId}"))!);
            Assert.NotEmpty((await machines.GetFromJsonAsync<List<JsonElement>>($"/api/machines/health?machineId={machineId}"))!);
            pages += 2;
        }

        await Eventually.TrueAsync(() => Task.FromResult(Compared() + Dropped() >= Accepted()), TimeSpan.FromMinutes(2),
            $"the shadow comparisons of {phase} did not finish");
        return pages;
    }

    private IEnumerable<IServiceProvider> Services => [fleet.Agents.Services, fleet.Machines.Services, fleet.Pool.Services, fleet.Snapshots.Services];

    private long Accepted() => Services.Sum(s => s.GetRequiredService<ShadowCompareQueue>().Accepted);

    private long Dropped() => Services.Sum(s => s.GetRequiredService<ShadowCompareQueue>().Dropped);

    private long Compared() => Services.Sum(s => s.GetRequiredService<ShadowCompareWorker>().Done);

    private async Task<List<string>> SourcesAsync()
    {
        var found = new List<string>();
        foreach (var source in new[] { DivergenceSources.Verifier, DivergenceSources.Shadow, ShadowTelemetry.SourceWriteCheck, DivergenceSources.OldCode })
        {
            var count = await fleet.ScalarAsync("SELECT count(*) FROM migration_divergences WHERE source = @s", ("s", source));
            if (count > 0)
            {
                found.Add($"{source}={count}");
            }
        }

        return found;
    }
}
