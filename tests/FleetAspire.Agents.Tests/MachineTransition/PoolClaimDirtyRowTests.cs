using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests.MachineTransition;

/// <summary>
/// Legacy pool rows the Machine model cannot hold (issue 14): the legacy claim never hands them out. Deleted with the
/// transition: the steady model cannot hold such rows in the first place.
/// </summary>
public sealed class PoolClaimDirtyRowTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task A_pool_row_the_Machine_model_could_not_hold_is_never_handed_out()
    {
        await app.ClearPoolAsync();
        // Ready on paper, dirty in fact: a bad address, no key, a server an agent already holds.
        await app.ExecuteAsync("""
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            VALUES ('agt_holds_pooled', 'h', 'someone', 'active', now(), now(), '61000003', '10.61.0.3', 'k-held', 'hetzner');
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at) VALUES
              ('pm_dirty_ip', '61000001', 'd1', '10.61.0.999', 'ready', 'k1', now() - interval '3 days', now()),
              ('pm_dirty_key', '61000002', 'd2', '10.61.0.2', 'ready', '', now() - interval '2 days', now()),
              ('pm_dirty_held', '61000003', 'd3', '10.61.0.3', 'ready', 'k3', now() - interval '1 day', now());
            """);
        var agent = await app.CreateAgentAsync("picky");
        using var client = app.AgentsAs(TestTokens.User("picky"));

        var empty = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);
        await app.ExecuteAsync("""
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            VALUES ('pm_clean_newest', '61000004', 'c4', '10.61.0.4', 'ready', 'k4', now(), now())
            """);
        var claimed = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);

        Assert.Equal(HttpStatusCode.Conflict, empty.StatusCode);
        Assert.Equal(HttpStatusCode.OK, claimed.StatusCode);
        Assert.Equal("61000004", (await claimed.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId);
        Assert.Equal(3, await app.ScalarAsync("SELECT count(*) FROM parked_machines WHERE id LIKE 'pm_dirty_%'"));
        await app.ExecuteAsync("DELETE FROM parked_machines WHERE id LIKE 'pm_dirty_%'; DELETE FROM agents WHERE id = 'agt_holds_pooled'");
    }
}
