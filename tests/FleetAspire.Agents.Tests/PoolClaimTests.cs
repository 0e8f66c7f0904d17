using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests;

public sealed class PoolClaimTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task Claiming_copies_the_machine_onto_the_agent_and_takes_it_out_of_the_pool()
    {
        await app.ClearPoolAsync();
        await app.ProvisionPoolAsync(1);
        var parked = await app.ScalarAsync("SELECT count(*) FROM parked_machines WHERE status = 'ready'");
        var agent = await app.CreateAgentAsync("claimer");
        using var client = app.AgentsAs(TestTokens.User("claimer"));

        var response = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var claimed = (await response.Content.ReadFromJsonAsync<AgentResponse>())!;
        Assert.Equal("hetzner", claimed.MachineType);
        Assert.Equal("active", claimed.Status);
        Assert.NotNull(claimed.MachineIpv4);
        Assert.Contains(claimed.MachineId!, app.Cloud.LiveServerIds);
        Assert.Equal(parked - 1, await app.ScalarAsync("SELECT count(*) FROM parked_machines"));
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM parked_machines WHERE machine_id = @m", ("m", claimed.MachineId!)));
    }

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

    [Fact]
    public async Task Connection_info_gives_the_owner_the_shared_key_that_no_other_response_holds()
    {
        await app.ProvisionPoolAsync(1);
        var agent = await app.CreateAgentAsync("connector");
        using var owner = app.AgentsAs(TestTokens.User("connector"));
        var claimBody = await (await owner.PostAsync($"/api/agents/{agent.Id}/claim", null)).Content.ReadAsStringAsync();

        var info = await owner.GetFromJsonAsync<ConnectionInfoResponse>($"/api/agents/{agent.Id}/connection");

        Assert.NotNull(info);
        Assert.Equal(8911, info.Port);
        Assert.True(info.SharedKey.Length >= 32);
        var stored = await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id AND machine_shared_key = @k", ("id", agent.Id), ("k", info.SharedKey));
        Assert.Equal(1, stored);
        var getBody = await owner.GetStringAsync($"/api/agents/{agent.Id}");
        var listBody = await owner.GetStringAsync("/api/agents");
        using var ops = app.AgentsAs(TestTokens.Operator());
        var opsListBody = await ops.GetStringAsync("/api/agents?limit=100");
        foreach (var body in new[] { claimBody, getBody, listBody, opsListBody })
        {
            Assert.DoesNotContain(info.SharedKey, body, StringComparison.Ordinal);
            Assert.DoesNotContain("sharedKey", body, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Connection_info_is_refused_to_everyone_but_the_owner()
    {
        await app.ProvisionPoolAsync(1);
        var agent = await app.CreateAgentAsync("private");
        using var owner = app.AgentsAs(TestTokens.User("private"));
        (await owner.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();
        using var other = app.AgentsAs(TestTokens.User("someone-else"));
        using var ops = app.AgentsAs(TestTokens.Operator());

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/agents/{agent.Id}/connection")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await ops.GetAsync($"/api/agents/{agent.Id}/connection")).StatusCode);
    }

    [Fact]
    public async Task An_empty_pool_answers_409_and_leaves_the_agent_idle()
    {
        await app.ClearPoolAsync();
        var agent = await app.CreateAgentAsync("unlucky");
        using var client = app.AgentsAs(TestTokens.User("unlucky"));

        var response = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var after = await client.GetFromJsonAsync<AgentResponse>($"/api/agents/{agent.Id}");
        Assert.Null(after!.MachineId);
        Assert.Equal("idle", after.Status);
    }

    [Fact]
    public async Task An_agent_with_a_machine_cannot_claim_a_second_one()
    {
        await app.ClearPoolAsync();
        await app.ProvisionPoolAsync(2);
        var agent = await app.CreateAgentAsync("greedy");
        using var client = app.AgentsAs(TestTokens.User("greedy"));
        (await client.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();

        var second = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);

        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM parked_machines"));
    }

    [Fact]
    public async Task Releasing_clears_the_agent_and_the_pool_destroys_the_server()
    {
        await app.ProvisionPoolAsync(1);
        var agent = await app.CreateAgentAsync("releaser");
        using var client = app.AgentsAs(TestTokens.User("releaser"));
        var claimed = (await (await client.PostAsync($"/api/agents/{agent.Id}/claim", null)).Content.ReadFromJsonAsync<AgentResponse>())!;

        var response = await client.PostAsync($"/api/agents/{agent.Id}/release", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var released = (await response.Content.ReadFromJsonAsync<AgentResponse>())!;
        Assert.Null(released.MachineId);
        Assert.Null(released.MachineIpv4);
        Assert.Null(released.MachineType);
        Assert.Equal("idle", released.Status);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id AND machine_shared_key IS NOT NULL", ("id", agent.Id)));
        await Eventually.TrueAsync(() => Task.FromResult(!app.Cloud.LiveServerIds.Contains(claimed.MachineId!)),
            TimeSpan.FromSeconds(20), "the pool did not destroy the released server");
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/api/agents/{agent.Id}/release", null)).StatusCode);
    }

    [Fact]
    public async Task Thirty_two_concurrent_claimers_on_a_pool_of_ten_get_exactly_ten_machines_none_twice()
    {
        await app.ClearPoolAsync();
        await app.ProvisionPoolAsync(10);
        Assert.Equal(10, await app.ScalarAsync("SELECT count(*) FROM parked_machines WHERE status = 'ready'"));
        var agents = new List<AgentResponse>();
        for (var i = 0; i < 32; i++)
        {
            agents.Add(await app.CreateAgentAsync($"racer-{i}"));
        }

        using var start = new SemaphoreSlim(0);
        var claims = agents.Select(async agent =>
        {
            using var client = app.AgentsAs(TestTokens.User(agent.UserId));
            await start.WaitAsync();
            var response = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);
            return (response.StatusCode, Agent: response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<AgentResponse>() : null);
        }).ToList();
        start.Release(agents.Count);
        var results = await Task.WhenAll(claims);

        var winners = results.Where(r => r.StatusCode == HttpStatusCode.OK).Select(r => r.Agent!).ToList();
        Assert.Equal(10, winners.Count);
        Assert.Equal(22, results.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(10, winners.Select(w => w.MachineId).Distinct().Count());
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM parked_machines"));
        Assert.Equal(10, await app.ScalarAsync("SELECT count(DISTINCT machine_id) FROM agents WHERE user_id LIKE 'racer-%' AND machine_id IS NOT NULL"));
        Assert.Equal(10, await app.ScalarAsync("SELECT count(*) FROM agents WHERE user_id LIKE 'racer-%' AND machine_id IS NOT NULL"));
    }

    [Fact]
    public async Task Concurrent_claims_for_one_agent_give_it_exactly_one_machine()
    {
        await app.ClearPoolAsync();
        await app.ProvisionPoolAsync(8);
        var agent = await app.CreateAgentAsync("double-clicker");
        using var start = new SemaphoreSlim(0);
        var claims = Enumerable.Range(0, 8).Select(async _ =>
        {
            using var client = app.AgentsAs(TestTokens.User("double-clicker"));
            await start.WaitAsync();
            return (await client.PostAsync($"/api/agents/{agent.Id}/claim", null)).StatusCode;
        }).ToList();
        start.Release(8);
        var statuses = await Task.WhenAll(claims);

        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(7, statuses.Count(s => s == HttpStatusCode.Conflict));
        Assert.Equal(7, await app.ScalarAsync("SELECT count(*) FROM parked_machines"));
    }
}
