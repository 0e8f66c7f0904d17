using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Machines.Apis;

namespace FleetAspire.Machines.Tests;

public sealed class CustomMachineTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task Registering_returns_the_machine_with_a_key_fingerprint_and_never_the_key()
    {
        var (machine, key) = await app.RegisterMachineAsync("registrar", "203.0.113.10", 2222);
        using var client = app.MachinesAs(TestTokens.User("registrar"));

        var get = await client.GetStringAsync($"/api/machines/custom/{machine.Id}");
        var list = await client.GetStringAsync("/api/machines/custom");

        Assert.Equal("203.0.113.10", machine.Ipv4);
        Assert.Equal(2222, machine.Port);
        Assert.StartsWith("hmac-sha256:", machine.SharedKeyFingerprint, StringComparison.Ordinal);
        foreach (var body in new[] { get, list, JsonSerializer.Serialize(machine) })
        {
            Assert.DoesNotContain(key, body, StringComparison.Ordinal);
            Assert.DoesNotContain("\"sharedKey\"", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_fingerprint_is_keyed_not_a_plain_hash_of_the_key()
    {
        var (machine, key) = await app.RegisterMachineAsync("hasher");
        var plain = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key)));

        Assert.DoesNotContain(plain[..32], machine.SharedKeyFingerprint, StringComparison.Ordinal);
        var (again, _) = await app.RegisterMachineAsync("hasher");
        Assert.NotEqual(machine.SharedKeyFingerprint, again.SharedKeyFingerprint);
    }

    [Fact]
    public async Task The_same_address_twice_for_one_user_is_409_but_another_user_may_register_it()
    {
        await app.RegisterMachineAsync("dup-a", "198.51.100.20", 8911);
        using var same = app.MachinesAs(TestTokens.User("dup-a"));
        var duplicate = await same.PostAsJsonAsync("/api/machines/custom", new RegisterCustomMachineRequest("198.51.100.20", 8911, "another-key-0123456789", null, null, null, null));
        var other = await app.RegisterMachineAsync("dup-b", "198.51.100.20", 8911);

        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Single((await same.GetFromJsonAsync<CustomMachinePage>("/api/machines/custom"))!.Items);
        Assert.Equal("dup-b", other.Machine.UserId);
    }

    [Fact]
    public async Task Another_users_machine_is_invisible_and_never_changed_or_assigned()
    {
        var (machine, _) = await app.RegisterMachineAsync("owner-m");
        var intruderAgent = await app.CreateAgentAsync("intruder-m");
        using var intruder = app.MachinesAs(TestTokens.User("intruder-m"));
        using var owner = app.MachinesAs(TestTokens.User("owner-m"));
        var before = await owner.GetStringAsync($"/api/machines/custom/{machine.Id}");

        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PatchAsJsonAsync($"/api/machines/custom/{machine.Id}", new UpdateCustomMachineRequest("10.0.0.1", null, null, null, null, null, null))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(intruderAgent.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.PostAsync($"/api/machines/custom/{machine.Id}/release", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        Assert.DoesNotContain((await intruder.GetFromJsonAsync<CustomMachinePage>("/api/machines/custom"))!.Items, m => m.Id == machine.Id);
        Assert.Equal(before, await owner.GetStringAsync($"/api/machines/custom/{machine.Id}"));
    }

    [Fact]
    public async Task Assigning_copies_the_machine_onto_the_agent_and_connection_info_uses_its_port_and_key()
    {
        var (machine, key) = await app.RegisterMachineAsync("assigner", "203.0.113.44", 2200);
        var agent = await app.CreateAgentAsync("assigner");
        using var machines = app.MachinesAs(TestTokens.User("assigner"));
        using var agents = app.AgentsAs(TestTokens.User("assigner"));

        var assign = await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id));

        Assert.Equal(HttpStatusCode.OK, assign.StatusCode);
        Assert.Equal(agent.Id, (await assign.Content.ReadFromJsonAsync<CustomMachineResponse>())!.CurrentAgentId);
        var after = (await agents.GetFromJsonAsync<AgentResponse>($"/api/agents/{agent.Id}"))!;
        Assert.Equal((machine.Id, "203.0.113.44", "custom", "active"), (after.MachineId, after.MachineIpv4, after.MachineType, after.Status));
        var info = (await agents.GetFromJsonAsync<ConnectionInfoResponse>($"/api/agents/{agent.Id}/connection"))!;
        Assert.Equal(("203.0.113.44", 2200, key), (info.Ipv4, info.Port, info.SharedKey));
    }

    [Fact]
    public async Task Assigning_to_another_users_agent_is_404_and_to_a_busy_agent_or_from_a_busy_machine_409()
    {
        var (machine, _) = await app.RegisterMachineAsync("picky");
        var (second, _) = await app.RegisterMachineAsync("picky");
        var foreign = await app.CreateAgentAsync("someone-else");
        var mine = await app.CreateAgentAsync("picky");
        var other = await app.CreateAgentAsync("picky");
        using var client = app.MachinesAs(TestTokens.User("picky"));

        var toForeign = await client.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(foreign.Id));
        (await client.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(mine.Id))).EnsureSuccessStatusCode();
        var machineBusy = await client.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(other.Id));
        var agentBusy = await client.PostAsJsonAsync($"/api/machines/custom/{second.Id}/assign", new AssignCustomMachineRequest(mine.Id));

        Assert.Equal(HttpStatusCode.NotFound, toForeign.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, machineBusy.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, agentBusy.StatusCode);
        Assert.Null((await app.AgentAsync(foreign.Id)).MachineId);
        Assert.Null((await app.AgentAsync(other.Id)).MachineId);
        Assert.Null((await client.GetFromJsonAsync<CustomMachineResponse>($"/api/machines/custom/{second.Id}"))!.CurrentAgentId);
    }

    [Fact]
    public async Task Concurrent_assignments_of_one_machine_give_it_to_exactly_one_agent()
    {
        var (machine, _) = await app.RegisterMachineAsync("racer-m");
        var agents = new List<AgentResponse>();
        for (var i = 0; i < 8; i++)
        {
            agents.Add(await app.CreateAgentAsync("racer-m"));
        }

        using var start = new SemaphoreSlim(0);
        var attempts = agents.Select(async agent =>
        {
            using var client = app.MachinesAs(TestTokens.User("racer-m"));
            await start.WaitAsync();
            return (await client.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).StatusCode;
        }).ToList();
        start.Release(agents.Count);
        var statuses = await Task.WhenAll(attempts);

        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(7, statuses.Count(s => s == HttpStatusCode.Conflict));
        var holders = new List<AgentResponse>();
        foreach (var agent in agents)
        {
            holders.Add(await app.AgentAsync(agent.Id));
        }

        Assert.Single(holders, a => a.MachineId == machine.Id);
    }

    [Fact]
    public async Task Updating_an_assigned_machine_updates_its_agents_copies_in_the_same_transaction()
    {
        var (machine, _) = await app.RegisterMachineAsync("updater", "203.0.113.50");
        var agent = await app.CreateAgentAsync("updater");
        using var client = app.MachinesAs(TestTokens.User("updater"));
        (await client.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();

        var response = await client.PatchAsJsonAsync($"/api/machines/custom/{machine.Id}", new UpdateCustomMachineRequest("203.0.113.51", 2201, "rotated-key-0123456789", null, "arm64", null, null));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("203.0.113.51", (await app.AgentAsync(agent.Id)).MachineIpv4);
        using var agents = app.AgentsAs(TestTokens.User("updater"));
        Assert.Equal("rotated-key-0123456789", (await agents.GetFromJsonAsync<ConnectionInfoResponse>($"/api/agents/{agent.Id}/connection"))!.SharedKey);
        var updated = (await response.Content.ReadFromJsonAsync<CustomMachineResponse>())!;
        Assert.Equal((2201, "arm64"), (updated.Port, updated.Arch));
        Assert.NotEqual(machine.SharedKeyFingerprint, updated.SharedKeyFingerprint);
    }

    [Fact]
    public async Task Releasing_from_either_side_clears_both_and_an_assigned_machine_cannot_be_deleted()
    {
        var (machine, _) = await app.RegisterMachineAsync("releaser-m");
        var agent = await app.CreateAgentAsync("releaser-m");
        using var machines = app.MachinesAs(TestTokens.User("releaser-m"));
        using var agents = app.AgentsAs(TestTokens.User("releaser-m"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.Conflict, (await machines.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await machines.PostAsync($"/api/machines/custom/{machine.Id}/release", null)).StatusCode);
        Assert.Null((await app.AgentAsync(agent.Id)).MachineId);
        Assert.Equal(HttpStatusCode.Conflict, (await machines.PostAsync($"/api/machines/custom/{machine.Id}/release", null)).StatusCode);

        (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.OK, (await agents.PostAsync($"/api/agents/{agent.Id}/release", null)).StatusCode);
        Assert.Null((await machines.GetFromJsonAsync<CustomMachineResponse>($"/api/machines/custom/{machine.Id}"))!.CurrentAgentId);
        Assert.Equal(HttpStatusCode.NoContent, (await machines.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await machines.GetAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
    }

    public static TheoryData<string, string, string?, HttpStatusCode, string?> BadInput => new()
    {
        { "POST", "/api/machines/custom", """{"ipv4":"256.1.1.1","sharedKey":"0123456789abcdefg"}""", HttpStatusCode.BadRequest, "ipv4" },
        { "POST", "/api/machines/custom", """{"ipv4":"01.2.3.4","sharedKey":"0123456789abcdefg"}""", HttpStatusCode.BadRequest, "ipv4" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3","sharedKey":"0123456789abcdefg"}""", HttpStatusCode.BadRequest, "ipv4" },
        { "POST", "/api/machines/custom", """{"ipv4":"::1","sharedKey":"0123456789abcdefg"}""", HttpStatusCode.BadRequest, "ipv4" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","port":0,"sharedKey":"0123456789abcdefg"}""", HttpStatusCode.BadRequest, "port" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","port":65536,"sharedKey":"0123456789abcdefg"}""", HttpStatusCode.BadRequest, "port" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","sharedKey":"short"}""", HttpStatusCode.BadRequest, "sharedKey" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","sharedKey":"has spaces in it 0123"}""", HttpStatusCode.BadRequest, "sharedKey" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4"}""", HttpStatusCode.BadRequest, "sharedKey" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","sharedKey":"0123456789abcdefg","cpuCount":0}""", HttpStatusCode.BadRequest, "cpuCount" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","sharedKey":"0123456789abcdefg","memoryGb":-1}""", HttpStatusCode.BadRequest, "memoryGb" },
        { "POST", "/api/machines/custom", """{"ipv4":"1.2.3.4","sharedKey":"0123456789abcdefg","os":""}""", HttpStatusCode.BadRequest, "os" },
        { "POST", "/api/machines/custom", """{"ipv4":1234}""", HttpStatusCode.BadRequest, null },
        { "PATCH", "/api/machines/custom/cm_nope", """{"port":70000}""", HttpStatusCode.BadRequest, "port" },
        { "PATCH", "/api/machines/custom/cm_nope", """{"port":22}""", HttpStatusCode.NotFound, null },
        { "GET", "/api/machines/custom/cm_nope", null, HttpStatusCode.NotFound, null },
        { "GET", "/api/machines/custom?limit=0", null, HttpStatusCode.BadRequest, "limit" },
        { "DELETE", "/api/machines/custom/cm_nope", null, HttpStatusCode.NotFound, null },
        { "POST", "/api/machines/custom/cm_nope/assign", """{}""", HttpStatusCode.BadRequest, "agentId" },
        { "POST", "/api/machines/custom/cm_nope/assign", """{"agentId":"agt_x"}""", HttpStatusCode.NotFound, null },
        { "POST", "/api/machines/custom/cm_nope/release", null, HttpStatusCode.NotFound, null },
        { "GET", "/api/machines/health", null, HttpStatusCode.BadRequest, "machineId" },
        { "POST", "/api/machines/heartbeats", """{"outcome":"healthy"}""", HttpStatusCode.Unauthorized, null },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_input_gets_problem_details_and_changes_nothing(string method, string path, string? body, HttpStatusCode expected, string? field)
    {
        using var client = app.MachinesAs(TestTokens.User("fuzzy"));
        var before = await app.RowCountsAsync("custom_machines", "machines", "machine_health_checks");
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
        };

        var response = await client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (field is not null)
        {
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}'");
        }

        Assert.Equal(before, await app.RowCountsAsync("custom_machines", "machines", "machine_health_checks"));
    }
}
