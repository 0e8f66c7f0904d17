using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Testing;

namespace FleetAspire.Agents.Tests;

public sealed class AgentLifecycleTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task Creating_an_agent_returns_it_idle_and_owned_by_the_caller()
    {
        using var client = app.AgentsAs(TestTokens.User("creator"));

        var response = await client.PostAsJsonAsync("/api/agents", new CreateAgentRequest("  builder-1 "));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var agent = (await response.Content.ReadFromJsonAsync<AgentResponse>())!;
        Assert.Equal("builder-1", agent.Name);
        Assert.Equal("creator", agent.UserId);
        Assert.Equal("idle", agent.Status);
        Assert.Null(agent.MachineId);
        Assert.Equal($"/api/agents/{agent.Id}", response.Headers.Location!.OriginalString);
        var fetched = await client.GetFromJsonAsync<AgentResponse>($"/api/agents/{agent.Id}");
        Assert.Equal(agent.Id, fetched!.Id);
    }

    [Fact]
    public async Task Another_users_agent_is_invisible_and_cannot_be_deleted()
    {
        var agent = await app.CreateAgentAsync("owner-a");
        using var intruder = app.AgentsAs(TestTokens.User("intruder"));

        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/agents/{agent.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.DeleteAsync($"/api/agents/{agent.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostAsync($"/api/agents/{agent.Id}/claim", null)).StatusCode);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id", ("id", agent.Id)));
    }

    [Fact]
    public async Task Operators_see_every_users_agents_and_users_only_their_own()
    {
        var mine = await app.CreateAgentAsync("lister-1");
        var theirs = await app.CreateAgentAsync("lister-2");
        using var user = app.AgentsAs(TestTokens.User("lister-1"));
        using var ops = app.AgentsAs(TestTokens.Operator());

        var own = await user.GetFromJsonAsync<PageResponse<AgentResponse>>("/api/agents?limit=100");
        var snooping = await user.GetFromJsonAsync<PageResponse<AgentResponse>>("/api/agents?userId=lister-2");
        var all = await ops.GetFromJsonAsync<PageResponse<AgentResponse>>("/api/agents?userId=lister-2");

        Assert.All(own!.Items, a => Assert.Equal("lister-1", a.UserId));
        Assert.Contains(own.Items, a => a.Id == mine.Id);
        Assert.Empty(snooping!.Items);
        Assert.Equal([theirs.Id], all!.Items.Select(a => a.Id));
    }

    [Fact]
    public async Task Listing_pages_by_keyset_without_gaps_or_repeats()
    {
        var created = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            created.Add((await app.CreateAgentAsync("pager", $"p{i}")).Id);
        }

        using var client = app.AgentsAs(TestTokens.User("pager"));
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await client.GetFromJsonAsync<PageResponse<AgentResponse>>($"/api/agents?limit=3{(cursor is null ? "" : $"&after={cursor}")}");
            seen.AddRange(page!.Items.Select(a => a.Id));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(created.Order(StringComparer.Ordinal), seen);
    }

    [Fact]
    public async Task Listing_filters_by_machine_type()
    {
        await app.ProvisionPoolAsync(1);
        var claimed = await app.CreateAgentAsync("typed");
        var idle = await app.CreateAgentAsync("typed");
        using var client = app.AgentsAs(TestTokens.User("typed"));
        (await client.PostAsync($"/api/agents/{claimed.Id}/claim", null)).EnsureSuccessStatusCode();

        var hetzner = await client.GetFromJsonAsync<PageResponse<AgentResponse>>("/api/agents?machineType=hetzner");
        var custom = await client.GetFromJsonAsync<PageResponse<AgentResponse>>("/api/agents?machineType=custom");

        Assert.Equal([claimed.Id], hetzner!.Items.Select(a => a.Id));
        Assert.DoesNotContain(hetzner.Items, a => a.Id == idle.Id);
        Assert.Empty(custom!.Items);
    }

    [Fact]
    public async Task Deleting_an_idle_agent_is_immediate()
    {
        var agent = await app.CreateAgentAsync("quick-deleter");
        using var client = app.AgentsAs(TestTokens.User("quick-deleter"));

        var response = await client.DeleteAsync($"/api/agents/{agent.Id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id", ("id", agent.Id)));
    }

    [Fact]
    public async Task Deleting_an_agent_with_a_machine_takes_a_final_snapshot_then_releases_and_destroys_the_server()
    {
        var claimed = await app.AgentWithPoolMachineAsync("deleter");
        using var client = app.AgentsAs(TestTokens.User("deleter"));
        Assert.Contains(claimed.MachineId!, app.Cloud.LiveServerIds);

        var response = await client.DeleteAsync($"/api/agents/{claimed.Id}");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.TrueAsync(async () => (await client.GetAsync($"/api/agents/{claimed.Id}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), "the agent was not deleted after its final snapshot");
        await Eventually.TrueAsync(() => Task.FromResult(!app.Cloud.LiveServerIds.Contains(claimed.MachineId!)),
            TimeSpan.FromSeconds(20), "the pool did not destroy the released server");
        // The snapshot was taken while the server still existed: its row has an image and outlives agent and server.
        Assert.Equal(1, await app.ScalarAsync(
            "SELECT count(*) FROM machine_snapshots WHERE agent_id = @a AND is_final AND machine_id = @m AND provider_image_id IS NOT NULL AND user_id = 'deleter'",
            ("a", claimed.Id), ("m", claimed.MachineId!)));
    }

    [Fact]
    public async Task An_agent_being_deleted_cannot_release_its_machine_underneath_the_final_snapshot()
    {
        var claimed = await app.AgentWithPoolMachineAsync("impatient");
        // Mark it deleting the way the delete endpoint does, without letting the flow finish first.
        await app.ExecuteAsync($"UPDATE agents SET status = 'deleting' WHERE id = '{claimed.Id}'");
        using var client = app.AgentsAs(TestTokens.User("impatient"));

        var release = await client.PostAsync($"/api/agents/{claimed.Id}/release", null);

        Assert.Equal(HttpStatusCode.Conflict, release.StatusCode);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id AND machine_id IS NOT NULL", ("id", claimed.Id)));
    }
}
