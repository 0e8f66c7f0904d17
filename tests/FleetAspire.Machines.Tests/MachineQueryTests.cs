using System.Net;
using System.Net.Http.Json;
#if MACHINE_TRANSITION
using FleetAspire.Data.MachineTransition.Backfill;
#endif
using FleetAspire.Machines.Apis;
using Npgsql;

namespace FleetAspire.Machines.Tests;

public sealed class MachineQueryTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    /// <summary>Today's fleet through the APIs, then the backfill, so Machine holds what the legacy model says.</summary>
    private async Task<(string PoolMachine, string AliceMachine, string AliceKey, string BobMachine)> FleetAsync()
    {
        var claimed = await app.AgentWithPoolMachineAsync("query-ops-user");
        var (alice, aliceKey) = await app.RegisterMachineAsync("query-alice");
        var (bob, _) = await app.RegisterMachineAsync("query-bob");
        var agent = await app.CreateAgentAsync("query-alice");
        using var machines = app.MachinesAs(TestTokens.User("query-alice"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{alice.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();
#if MACHINE_TRANSITION
        // Written to the legacy model (the fleet is in Legacy): the backfill copies it into Machine.
        await using var source = NpgsqlDataSource.Create(app.Database);
        var backfill = new MachineBackfill(source, new BackfillOptions { Pause = TimeSpan.Zero });
        await backfill.StartAsync(CancellationToken.None);
        Assert.Equal(BackfillStates.Done, (await backfill.RunAsync(CancellationToken.None)).State);
#endif
        return ("mh_" + claimed.MachineId, "mc_" + alice.Id, aliceKey, "mc_" + bob.Id);
    }

    [Fact]
    public async Task Users_see_only_their_own_custom_machines_and_operators_see_every_machine()
    {
        var (pool, alice, aliceKey, bob) = await FleetAsync();
        using var user = app.MachinesAs(TestTokens.User("query-alice"));
        using var ops = app.MachinesAs(TestTokens.Operator());

        var own = await user.GetFromJsonAsync<MachinePage>("/api/machines?limit=100");
        var all = await ops.GetFromJsonAsync<MachinePage>("/api/machines?limit=100");
        var body = await user.GetStringAsync($"/api/machines/{alice}");

        Assert.Equal([alice], own!.Items.Select(m => m.Id));
        Assert.Contains(all!.Items, m => m.Id == pool && m.Type == "hetzner" && m.Status == "in_use");
        Assert.Contains(all.Items, m => m.Id == bob && m.Status == "offline" && m.CurrentAgentId == null);
        Assert.Equal(HttpStatusCode.NotFound, (await user.GetAsync($"/api/machines/{bob}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await user.GetAsync($"/api/machines/{pool}")).StatusCode);
        Assert.DoesNotContain(aliceKey, body, StringComparison.Ordinal);
        Assert.DoesNotContain("sharedKey", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Filters_paging_and_counts_read_the_machine_table()
    {
        var (pool, alice, _, _) = await FleetAsync();
        using var ops = app.MachinesAs(TestTokens.Operator());

        var assigned = await ops.GetFromJsonAsync<MachinePage>("/api/machines?assigned=true&limit=100");
        var custom = await ops.GetFromJsonAsync<MachinePage>("/api/machines?type=custom&status=in_use&limit=100");
        var counts = await ops.GetFromJsonAsync<List<MachineCount>>("/api/machines/counts");
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await ops.GetFromJsonAsync<MachinePage>($"/api/machines?limit=1{(cursor is null ? "" : $"&after={cursor}")}");
            seen.AddRange(page!.Items.Select(m => m.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Contains(assigned!.Items, m => m.Id == pool);
        Assert.Contains(assigned.Items, m => m.Id == alice && m.CurrentAgentId != null);
        Assert.All(custom!.Items, m => Assert.Equal(("custom", "in_use"), (m.Type, m.Status)));
        Assert.Equal(await app.ScalarAsync("SELECT count(*) FROM machines"), counts!.Sum(c => c.Count));
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(await app.ScalarAsync("SELECT count(*) FROM machines"), seen.Distinct().Count());
    }

    [Theory]
    [InlineData("/api/machines?type=azure", "type")]
    [InlineData("/api/machines?status=broken", "status")]
    [InlineData("/api/machines?limit=0", "limit")]
    [InlineData("/api/machines?after=%27", "after")]
    public async Task Bad_filters_are_400_problem_details(string path, string field)
    {
        using var ops = app.MachinesAs(TestTokens.Operator());

        var response = await ops.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
