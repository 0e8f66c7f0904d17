using System.Net.Http.Json;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Apis;

namespace FleetAspire.Transition.Tests;

/// <summary>
/// Each instance reports, with its heartbeat, when it last ran a legacy code path and when a write of its last failed
/// — what the contract's soak gate reads (docs/adr/0014).
/// </summary>
public sealed class InstanceUsageTests(PhaseFleet fleet) : IClassFixture<PhaseFleet>
{
    [Fact]
    public async Task Legacy_reads_and_writes_are_reported_and_MachineOnly_runs_none()
    {
        using var ops = fleet.Control.ClientFor(TestTokens.Operator());
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        var agent = await fleet.AgentWithPoolMachineAsync("usage");
        using var user = fleet.AgentsAs(TestTokens.User("usage"));
        (await user.GetAsync($"/api/agents/{agent.Id}")).EnsureSuccessStatusCode();
        var afterLegacyUse = DateTimeOffset.UtcNow;

        // In DualWrite legacy serves the agents' reads and is written: the agents instance says so.
        await Eventually.TrueAsync(async () => (await AgentsInstanceAsync(ops))?.LegacyPathAt is { } at && at <= afterLegacyUse,
            TimeSpan.FromSeconds(10), "the agents instance did not report its legacy code path");

        // In MachineOnly nothing runs a legacy path: reads and writes through every service leave the reports older
        // than the phase.
        await fleet.WalkToAsync(TransitionPhase.MachineOnly);
        var since = (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Phases.Since;
        (await user.GetAsync($"/api/agents/{agent.Id}")).EnsureSuccessStatusCode();
        (await user.PostAsync($"/api/agents/{agent.Id}/release", null)).EnsureSuccessStatusCode();
        var (custom, _) = await fleet.RegisterMachineAsync("usage");
        using var machines = fleet.MachinesAs(TestTokens.User("usage"));
        (await machines.GetAsync($"/api/machines/custom/{custom.Id}")).EnsureSuccessStatusCode();
        (await machines.GetAsync("/api/machines/custom")).EnsureSuccessStatusCode();
        var heartbeatAfter = DateTimeOffset.UtcNow;
        await Eventually.TrueAsync(async () => (await InstancesAsync(ops)).All(i => i.LastSeen > heartbeatAfter),
            TimeSpan.FromSeconds(10), "not every instance sent a heartbeat after the MachineOnly traffic");

        var instances = await InstancesAsync(ops);
        Assert.All(instances, i => Assert.True(i.LegacyPathAt is null || i.LegacyPathAt < since,
            $"{i.Service} ran a legacy path at {i.LegacyPathAt:O}, after MachineOnly began at {since:O}"));
        Assert.All(instances, i => Assert.Null(i.WriteErrorAt));
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
    }

    [Fact]
    public async Task A_failed_write_is_reported_and_a_refusal_answered_409_is_not()
    {
        using var ops = fleet.Control.ClientFor(TestTokens.Operator());
        await fleet.WalkToAsync(TransitionPhase.MachineOnly);
        var (existing, _) = await fleet.RegisterMachineAsync("usage-errors", "198.51.100.77", port: 2300);
        using var machines = fleet.MachinesAs(TestTokens.User("usage-errors"));

        // A duplicate is an answer (409), not a fault.
        var duplicate = await machines.PostAsJsonAsync("/api/machines/custom", new { ipv4 = "198.51.100.77", port = 2300, sharedKey = "dup-key-0123456789" });
        Assert.Equal(System.Net.HttpStatusCode.Conflict, duplicate.StatusCode);
        var heartbeatAfter = DateTimeOffset.UtcNow;
        await Eventually.TrueAsync(async () => (await InstancesAsync(ops)).Where(i => i.Service == "machines").All(i => i.LastSeen > heartbeatAfter),
            TimeSpan.FromSeconds(10), "no heartbeat from the machines instance");
        Assert.All((await InstancesAsync(ops)).Where(i => i.Service == "machines"), i => Assert.Null(i.WriteErrorAt));

        // A fault in the database (a trigger stands in for one) fails the write: reported.
        await fleet.ExecuteAsync("""
            CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted fault'; END $$;
            CREATE TRIGGER test_fail BEFORE UPDATE ON machines FOR EACH ROW WHEN (NEW.port = 2399) EXECUTE FUNCTION test_fail();
            """);
        try
        {
            var failed = await machines.PatchAsJsonAsync($"/api/machines/custom/{existing.Id}", new { port = 2399 });
            Assert.False(failed.IsSuccessStatusCode);
            await Eventually.TrueAsync(async () => (await InstancesAsync(ops)).Any(i => i.Service == "machines" && i.WriteErrorAt is not null),
                TimeSpan.FromSeconds(10), "the failed write was not reported");
        }
        finally
        {
            await fleet.ExecuteAsync("DROP TRIGGER test_fail ON machines; DROP FUNCTION test_fail();");
            await fleet.WalkToAsync(TransitionPhase.DualWrite);
        }
    }

    private static async Task<IReadOnlyList<InstanceInfo>> InstancesAsync(HttpClient ops) =>
        (await ops.GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Phases.Instances;

    private static async Task<InstanceInfo?> AgentsInstanceAsync(HttpClient ops) =>
        (await InstancesAsync(ops)).FirstOrDefault(i => i.Service == "agents");
}
