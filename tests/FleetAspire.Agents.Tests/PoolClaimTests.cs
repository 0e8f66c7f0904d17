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
        var ready = (await app.PoolAsync()).Ready;
        var agent = await app.CreateAgentAsync("claimer");
        using var client = app.AgentsAs(TestTokens.User("claimer"));

        var response = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var claimed = (await response.Content.ReadFromJsonAsync<AgentResponse>())!;
        Assert.Equal("hetzner", claimed.MachineType);
        Assert.Equal("active", claimed.Status);
        Assert.NotNull(claimed.MachineIpv4);
        Assert.Contains(claimed.MachineId!, app.Cloud.LiveServerIds);
        Assert.Equal(ready - 1, (await app.PoolAsync()).Ready);
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
        Assert.Equal(info.SharedKey, (await owner.GetFromJsonAsync<ConnectionInfoResponse>($"/api/agents/{agent.Id}/connection"))!.SharedKey);
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
        Assert.Equal(1, (await app.PoolAsync()).Ready);
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
        Assert.Equal(HttpStatusCode.Conflict, (await client.GetAsync($"/api/agents/{agent.Id}/connection")).StatusCode);
        await Eventually.TrueAsync(() => Task.FromResult(!app.Cloud.LiveServerIds.Contains(claimed.MachineId!)),
            TimeSpan.FromSeconds(20), "the pool did not destroy the released server");
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/api/agents/{agent.Id}/release", null)).StatusCode);
    }

    [Fact]
    public async Task Thirty_two_concurrent_claimers_on_a_pool_of_ten_get_exactly_ten_machines_none_twice()
    {
        await app.ClearPoolAsync();
        await app.ProvisionPoolAsync(10);
        Assert.Equal(10, (await app.PoolAsync()).Ready);
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
        Assert.Equal(0, (await app.PoolAsync()).Ready);
        using var ops = app.AgentsAs(TestTokens.Operator());
        var holders = new List<AgentResponse>();
        foreach (var agent in agents)
        {
            holders.Add((await ops.GetFromJsonAsync<AgentResponse>($"/api/agents/{agent.Id}"))!);
        }

        Assert.Equal(10, holders.Count(a => a.MachineId is not null));
        Assert.Equal(10, holders.Where(a => a.MachineId is not null).Select(a => a.MachineId).Distinct().Count());
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
        Assert.Equal(7, (await app.PoolAsync()).Ready);
    }
}
