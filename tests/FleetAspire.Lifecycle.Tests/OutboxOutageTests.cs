using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Pool.Apis;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Lifecycle.Tests;

[Collection(LifecycleCollection.Name)]
public sealed class OutboxOutageTests
{
    [Fact]
    public async Task Events_written_while_rabbitmq_is_down_are_all_delivered_after_it_returns()
    {
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("brokeroutage");
        var vhost = await rabbit.CreateVirtualHostAsync("brokeroutage");
        var quiet = new Dictionary<string, string?> { ["Pool:ReconcilerEnabled"] = "false", ["Outbox:MaxBackoff"] = "00:00:01" };
        await using var agents = new FleetServiceFactory<AgentResponse>(database, vhost, quiet);
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, vhost, quiet);
        _ = agents.Server;
        var cloud = pool.Services.GetRequiredService<FleetAspire.Cloud.SimulatedCloudProvider>();
        using var ops = pool.ClientFor(TestTokens.Operator());
        (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(10))).EnsureSuccessStatusCode();
        (await ops.PostAsync("/api/pool/reconcile", null)).EnsureSuccessStatusCode();
        using var user = agents.ClientFor(TestTokens.User("outage"));
        var servers = new List<string>();

        await rabbit.StopAsync();
        try
        {
            // Writes do not need the broker: every claim and release commits, with its event in the outbox.
            for (var i = 0; i < 10; i++)
            {
                var agent = (await (await user.PostAsJsonAsync("/api/agents", new CreateAgentRequest($"o{i}"))).Content.ReadFromJsonAsync<AgentResponse>())!;
                var claim = await user.PostAsync($"/api/agents/{agent.Id}/claim", null);
                Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
                servers.Add((await claim.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId!);
                Assert.Equal(HttpStatusCode.OK, (await user.PostAsync($"/api/agents/{agent.Id}/release", null)).StatusCode);
            }

            Assert.Equal(20, await UnsentAsync(database));
        }
        finally
        {
            await rabbit.StartAgainAsync();
        }

        await Eventually.TrueAsync(async () => await UnsentAsync(database) == 0, TimeSpan.FromSeconds(60), "the outbox did not drain after the broker returned");
        // Every MachineReleased reached the pool, which destroyed each server.
        await Eventually.TrueAsync(() => Task.FromResult(servers.All(s => !cloud.LiveServerIds.Contains(s))),
            TimeSpan.FromSeconds(60), "not every released server was destroyed");
    }

    [Fact]
    public async Task Events_committed_by_a_service_killed_before_publishing_are_delivered_after_it_restarts()
    {
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("killedservice");
        var vhost = await rabbit.CreateVirtualHostAsync("killedservice");
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, vhost, new Dictionary<string, string?>
        {
            ["Pool:ReconcilerEnabled"] = "false",
            // Only the agents process may publish here, so delivery proves its restart picked the rows up.
            ["Outbox:PollInterval"] = "01:00:00",
        });
        var cloud = pool.Services.GetRequiredService<FleetAspire.Cloud.SimulatedCloudProvider>();
        using (var ops = pool.ClientFor(TestTokens.Operator()))
        {
            (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(5))).EnsureSuccessStatusCode();
            (await ops.PostAsync("/api/pool/reconcile", null)).EnsureSuccessStatusCode();
        }

        var servers = new List<string>();
        await using (var agents = await ServiceProcess.StartAsync("Agents", database, vhost))
        {
            using var user = agents.Client(TestTokens.User("crash"));
            // The broker is down, so the dispatcher cannot publish what the requests commit.
            await rabbit.StopAsync();
            try
            {
                for (var i = 0; i < 5; i++)
                {
                    var agent = (await (await user.PostAsJsonAsync("/api/agents", new CreateAgentRequest($"c{i}"))).Content.ReadFromJsonAsync<AgentResponse>())!;
                    var claim = await user.PostAsync($"/api/agents/{agent.Id}/claim", null);
                    servers.Add((await claim.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId!);
                    (await user.PostAsync($"/api/agents/{agent.Id}/release", null)).EnsureSuccessStatusCode();
                }

                Assert.Equal(10, await UnsentAsync(database));
                agents.Kill();
            }
            finally
            {
                await rabbit.StartAgainAsync();
            }
        }

        Assert.Equal(10, await UnsentAsync(database));
        await using var restarted = await ServiceProcess.StartAsync("Agents", database, vhost);

        await Eventually.TrueAsync(async () => await UnsentAsync(database) == 0, TimeSpan.FromSeconds(60), "the restarted service did not publish the committed events");
        await Eventually.TrueAsync(() => Task.FromResult(servers.All(s => !cloud.LiveServerIds.Contains(s))),
            TimeSpan.FromSeconds(60), "not every released server was destroyed");
    }

    private static async Task<long> UnsentAsync(string database)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
