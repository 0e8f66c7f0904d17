using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Transition.Tests;

/// <summary>
/// The agents API, custom machines, and snapshots and health checks by machine read from the side each phase names authoritative and answers the same in every phase. The data
/// is written in DualWrite (both sides complete), then the phase is set directly and every read compared.
/// </summary>
public sealed class AgentReadsAcrossPhasesTests(PhaseFleet fleet) : IClassFixture<PhaseFleet>
{
    private static (string Pool, string Custom, string Idle, string Provider, string CustomMachine)? _agents;
    private static readonly SemaphoreSlim Setup = new(1, 1);

    private async Task<(string Pool, string Custom, string Idle, string Provider, string CustomMachine)> AgentsAsync()
    {
        await Setup.WaitAsync();
        try
        {
            if (_agents is { } done && await fleet.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id", ("id", done.Pool)) == 1)
            {
                return done;
            }

            await SetPhaseAsync(TransitionPhase.DualWrite);
            var pool = await fleet.AgentWithPoolMachineAsync("reader");
            var (machine, key) = await fleet.RegisterMachineAsync("reader", port: 2222);
            var custom = await fleet.CreateAgentAsync("reader");
            using var machines = fleet.MachinesAs(TestTokens.User("reader"));
            (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new { agentId = custom.Id })).EnsureSuccessStatusCode();
            var idle = await fleet.CreateAgentAsync("reader");
            // A snapshot of the pool machine and a heartbeat of the custom one: reads "by machine" in every phase.
            using var snapshots = fleet.SnapshotsAs(TestTokens.User("reader"));
            (await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = pool.Id })).EnsureSuccessStatusCode();
            (await fleet.HeartbeatAsync(machine.Id, key, "healthy")).EnsureSuccessStatusCode();
            // Two ready pool servers, then let the pool settle (the claim's event may replenish it) so every phase
            // reads the same pool.
            await fleet.OutboxDrainedAsync();
            await fleet.ProvisionPoolAsync(2);
            using var ops = fleet.Pool.ClientFor(TestTokens.Operator());
            await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<JsonElement>("/api/pool")).GetProperty("launching").GetInt32() == 0,
                TimeSpan.FromSeconds(10), "the pool did not settle");
            _agents = (pool.Id, custom.Id, idle.Id, pool.MachineId!, machine.Id);
            return _agents.Value;
        }
        finally
        {
            Setup.Release();
        }
    }

    /// <summary>Sets the stored phase (no gates: this build's gates keep MachineRead/MachineOnly closed) and waits for the agents service.</summary>
    private async Task SetPhaseAsync(TransitionPhase phase)
    {
        await fleet.ExecuteAsync($"UPDATE migration_phase SET phase = '{phase}', epoch = epoch + 1, since = now() WHERE id = 1 AND phase <> '{phase}'; NOTIFY fleet_phase;");
        var epoch = await fleet.ScalarAsync("SELECT epoch FROM migration_phase");
        await Eventually.TrueAsync(async () => await fleet.ScalarAsync(
                "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND epoch <> @e", ("e", epoch)) == 0,
            TimeSpan.FromSeconds(5), $"the services did not follow to {phase}");
    }

    private async Task<string> ReadAllAsync((string Pool, string Custom, string Idle, string Provider, string CustomMachine) agents)
    {
        using var client = fleet.AgentsAs(TestTokens.User("reader"));
        var reads = new List<string>();
        foreach (var id in new[] { agents.Pool, agents.Custom, agents.Idle })
        {
            reads.Add(await client.GetStringAsync($"/api/agents/{id}"));
        }

        reads.Add(await client.GetStringAsync("/api/agents?limit=10"));
        reads.Add(await client.GetStringAsync("/api/agents?machineType=custom"));
        reads.Add(await client.GetStringAsync("/api/agents?machineType=hetzner"));
        reads.Add(await client.GetStringAsync($"/api/agents/{agents.Pool}/connection"));
        reads.Add(await client.GetStringAsync($"/api/agents/{agents.Custom}/connection"));
        using var snapshots = fleet.SnapshotsAs(TestTokens.User("reader"));
        reads.Add(await snapshots.GetStringAsync($"/api/snapshots?machineId={agents.Provider}"));
        using var machines = fleet.MachinesAs(TestTokens.User("reader"));
        reads.Add(await machines.GetStringAsync($"/api/machines/health?machineId={agents.CustomMachine}"));
        reads.Add(await machines.GetStringAsync("/api/machines/custom"));
        reads.Add(await machines.GetStringAsync($"/api/machines/custom/{agents.CustomMachine}"));
        using var pool = fleet.Pool.ClientFor(TestTokens.Operator());
        var status = await pool.GetFromJsonAsync<JsonElement>("/api/pool");
        reads.Add($"launching={status.GetProperty("launching").GetInt32()} ready={status.GetProperty("ready").GetInt32()}");
        // The list's ids are pool row ids on the legacy side and Machine ids on the other: compare the servers.
        var listed = await pool.GetFromJsonAsync<JsonElement>("/api/pool/machines");
        reads.Add(string.Join(",", listed.GetProperty("items").EnumerateArray()
            .Select(m => $"{m.GetProperty("machineId").GetString()}:{m.GetProperty("ipv4").GetString()}:{m.GetProperty("status").GetString()}").Order()));
        return string.Join("\n", reads);
    }

    [Theory]
    [InlineData(TransitionPhase.Legacy)]
    [InlineData(TransitionPhase.DualWrite)]
    [InlineData(TransitionPhase.MachineRead)]
    [InlineData(TransitionPhase.MachineOnly)]
    public async Task Every_agent_read_answers_the_same_in_every_phase(TransitionPhase phase)
    {
        var agents = await AgentsAsync();
        await SetPhaseAsync(TransitionPhase.Legacy);
        var legacy = await ReadAllAsync(agents);

        await SetPhaseAsync(phase);
        var read = await ReadAllAsync(agents);

        Assert.Equal(legacy, read);
        Assert.Contains("\"port\":2222", read, StringComparison.Ordinal);
        Assert.Contains("\"outcome\":\"healthy\"", read, StringComparison.Ordinal);
        Assert.Contains(agents.Provider, read, StringComparison.Ordinal);
        Assert.Contains("launching=0 ready=2", read, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agent_json_contract_is_pinned()
    {
        var agents = await AgentsAsync();
        using var client = fleet.AgentsAs(TestTokens.User("reader"));
        var pool = await client.GetFromJsonAsync<JsonElement>($"/api/agents/{agents.Pool}");
        var idle = await client.GetFromJsonAsync<JsonElement>($"/api/agents/{agents.Idle}");

        AgentJsonContract.AssertPinned(pool, idle);
    }
}
