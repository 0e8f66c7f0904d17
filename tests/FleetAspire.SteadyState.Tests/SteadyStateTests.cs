using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Testing;

namespace FleetAspire.SteadyState.Tests;

/// <summary>
/// Every write path of the four services against the contracted schema: pool machines, custom machines, heartbeats
/// and health, snapshots, the agent deletion flow — all on the unified Machine table, with the agents API serving
/// the flat machine fields old clients read, computed from the relation.
/// </summary>
public sealed class SteadyStateTests(SteadyFleet fleet) : IClassFixture<SteadyFleet>
{
    [Fact]
    public async Task The_schema_is_contracted()
    {
        await ContractedSchema.AssertAsync(fleet.Database);
    }

#if !MACHINE_TRANSITION
    [Fact]
    public async Task The_steady_build_runs_on_a_database_made_by_the_steady_migrations_alone()
    {
        Assert.Equal("Steady_Baseline", await fleet.StringAsync(
            "SELECT string_agg(substr(migration_id, 16), ',') FROM \"__EFMigrationsHistory\""));
        Assert.Null(await fleet.StringAsync("SELECT to_regclass('migration_phase')::text"));
    }

    [Fact]
    public void The_steady_model_has_no_change_the_steady_migrations_do_not_make()
    {
        // A change to an entity or its configuration needs a steady migration (ADR 0022): EF compares the model with
        // the steady set's snapshot.
        using var db = new FleetAspire.Data.FleetDbContext(FleetAspire.Data.FleetDbContextOptions.Build(fleet.Database));
        Assert.False(Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.HasPendingModelChanges(db.Database));
    }

#endif
    [Fact]
    public async Task Old_clients_get_the_agent_json_they_always_got()
    {
        using var agents = fleet.AgentsAs(TestTokens.User("steady-json"));
        var holder = await fleet.AgentWithPoolMachineAsync("steady-json");
        var idle = await fleet.CreateAgentAsync("steady-json");
        AgentJsonContract.AssertPinned(await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{holder.Id}"),
            await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{idle.Id}"));
    }

    [Fact]
    public async Task Pool_machines_are_claimed_connected_snapshotted_and_released()
    {
        using var agents = fleet.AgentsAs(TestTokens.User("steady-pool"));
        using var snapshots = fleet.SnapshotsAs(TestTokens.User("steady-pool"));
        await fleet.ProvisionPoolAsync(2);
        using var pool = fleet.Pool.ClientFor(TestTokens.Operator());
        var status = await pool.GetFromJsonAsync<JsonElement>("/api/pool");
        Assert.Equal(2, status.GetProperty("ready").GetInt32() + status.GetProperty("launching").GetInt32());

        var agent = await fleet.CreateAgentAsync("steady-pool");
        var claim = await agents.PostAsync($"/api/agents/{agent.Id}/claim", null);
        Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        var claimed = await claim.Content.ReadFromJsonAsync<JsonElement>();
        var providerId = claimed.GetProperty("machineId").GetString()!;
        Assert.Equal("hetzner", claimed.GetProperty("machineType").GetString());
        Assert.False(string.IsNullOrEmpty(claimed.GetProperty("machineIpv4").GetString()));
        Assert.Equal("in_use", claimed.GetProperty("machine").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await agents.PostAsync($"/api/agents/{agent.Id}/claim", null)).StatusCode);
        var connection = await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{agent.Id}/connection");
        Assert.Equal(claimed.GetProperty("machineIpv4").GetString(), connection.GetProperty("ipv4").GetString());
        Assert.False(string.IsNullOrEmpty(connection.GetProperty("sharedKey").GetString()));
        Assert.Equal(1, await fleet.ScalarAsync(
            "SELECT count(*) FROM agents a JOIN machines m ON m.id = a.machine_id WHERE a.id = @a AND m.legacy_id = @p", ("a", agent.Id), ("p", providerId)));

        Assert.Equal(HttpStatusCode.Created, (await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = agent.Id })).StatusCode);
        Assert.Single(await snapshots.GetFromJsonAsync<List<JsonElement>>($"/api/snapshots?machineId={providerId}") ?? []);

        // Released: the server is destroyed on the event; its Machine row stays as a tombstone for the snapshot.
        var released = await (await agents.PostAsync($"/api/agents/{agent.Id}/release", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("idle", JsonValueKind.Null), (released.GetProperty("status").GetString(), released.GetProperty("machine").ValueKind));
        await Eventually.TrueAsync(async () => (await fleet.Cloud.GetServerAsync(providerId, CancellationToken.None)) is null,
            TimeSpan.FromSeconds(20), "the released server was not destroyed");
        Assert.Equal("destroyed", await fleet.StringAsync("SELECT status FROM machines WHERE legacy_id = @p", ("p", providerId)));
        Assert.Single(await snapshots.GetFromJsonAsync<List<JsonElement>>($"/api/snapshots?machineId={providerId}") ?? []);
        Assert.DoesNotContain(providerId, await pool.GetStringAsync("/api/pool/machines"));
    }

    [Fact]
    public async Task Custom_machines_register_assign_heartbeat_release_and_delete()
    {
        using var machines = fleet.MachinesAs(TestTokens.User("steady-custom"));
        using var agents = fleet.AgentsAs(TestTokens.User("steady-custom"));
        var (machine, key) = await fleet.RegisterMachineAsync("steady-custom", "198.51.100.90", port: 2200);
        Assert.Equal(HttpStatusCode.Conflict, (await machines.PostAsJsonAsync("/api/machines/custom",
            new { ipv4 = "198.51.100.90", port = 2200, sharedKey = "another-key-0123456789" })).StatusCode);
        var updated = await machines.PatchAsJsonAsync($"/api/machines/custom/{machine.Id}", new { port = 2201 });
        Assert.Equal(2201, (await updated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("port").GetInt32());

        var holder = await fleet.CreateAgentAsync("steady-custom");
        var assigned = await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new { agentId = holder.Id });
        Assert.Equal(holder.Id, (await assigned.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("currentAgentId").GetString());
        var held = await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{holder.Id}");
        Assert.Equal((machine.Id, "198.51.100.90", "custom"),
            (held.GetProperty("machineId").GetString(), held.GetProperty("machineIpv4").GetString(), held.GetProperty("machineType").GetString()));
        var byType = await agents.GetFromJsonAsync<JsonElement>("/api/agents?machineType=custom");
        Assert.Contains(byType.GetProperty("items").EnumerateArray(), a => a.GetProperty("id").GetString() == holder.Id);

        Assert.Equal(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(machine.Id, key, "healthy")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fleet.HeartbeatAsync(machine.Id, "wrong-key-0123456789", "healthy")).StatusCode);
        var checks = await machines.GetFromJsonAsync<List<JsonElement>>($"/api/machines/health?machineId={machine.Id}");
        Assert.Equal("healthy", Assert.Single(checks!).GetProperty("outcome").GetString());
        Assert.Equal(1, await fleet.ScalarAsync(
            "SELECT count(*) FROM machine_health_checks h JOIN machines m ON m.id = h.machine_ref WHERE m.legacy_id = @m", ("m", machine.Id)));

        Assert.Equal(HttpStatusCode.Conflict, (await machines.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        (await machines.PostAsync($"/api/machines/custom/{machine.Id}/release", null)).EnsureSuccessStatusCode();
        Assert.Equal(JsonValueKind.Null, (await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{holder.Id}")).GetProperty("machine").ValueKind);
        Assert.Equal(HttpStatusCode.NoContent, (await machines.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await machines.GetAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        // Its health history keeps the (tombstoned) machine it names; a heartbeat for it authenticates no more.
        Assert.Equal("destroyed", await fleet.StringAsync("SELECT status FROM machines WHERE legacy_id = @m", ("m", machine.Id)));
        Assert.NotEqual(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(machine.Id, key, "healthy")).StatusCode);

        // A machine with no history is removed outright.
        var (unused, _) = await fleet.RegisterMachineAsync("steady-custom", "198.51.100.91");
        Assert.Equal(HttpStatusCode.NoContent, (await machines.DeleteAsync($"/api/machines/custom/{unused.Id}")).StatusCode);
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM machines WHERE legacy_id = @m", ("m", unused.Id)));
    }

    [Fact]
    public async Task Deleting_an_agent_takes_a_final_snapshot_that_outlives_its_server()
    {
        using var agents = fleet.AgentsAs(TestTokens.User("steady-delete"));
        var doomed = await fleet.AgentWithPoolMachineAsync("steady-delete");
        Assert.Equal(HttpStatusCode.Accepted, (await agents.DeleteAsync($"/api/agents/{doomed.Id}")).StatusCode);
        await Eventually.TrueAsync(async () => (await agents.GetAsync($"/api/agents/{doomed.Id}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), "the deletion flow did not finish");
        await Eventually.TrueAsync(async () => (await fleet.Cloud.GetServerAsync(doomed.MachineId!, CancellationToken.None)) is null,
            TimeSpan.FromSeconds(20), "the deleted agent's server was not destroyed");
        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM machine_snapshots s JOIN machines m ON m.id = s.machine_ref
            WHERE s.agent_id = @a AND s.is_final AND m.status = 'destroyed'
            """, ("a", doomed.Id)));
    }
}
