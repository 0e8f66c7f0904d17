using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Cloud;
using FleetAspire.Pool.Apis;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Agents.Tests;

/// <summary>
/// The agents and pool services of one test class, in-process, on their own database and RabbitMQ vhost.
/// The pool's reconciler is off: tests decide when the pool changes.
/// </summary>
public sealed class FleetAppFixture : IAsyncLifetime
{
    public FleetServiceFactory<AgentResponse> Agents { get; private set; } = null!;
    public FleetServiceFactory<PoolStatusResponse> Pool { get; private set; } = null!;
    public string Database { get; private set; } = null!;

    public SimulatedCloudProvider Cloud => Pool.Services.GetRequiredService<SimulatedCloudProvider>();

    public async Task InitializeAsync()
    {
        var postgres = await TestPostgres.GetAsync();
        var rabbit = await TestRabbitMq.GetAsync();
        Database = await postgres.CreateDatabaseAsync(nameof(FleetAppFixture));
        var vhost = await rabbit.CreateVirtualHostAsync("agents");
        Agents = new FleetServiceFactory<AgentResponse>(Database, vhost);
        Pool = new FleetServiceFactory<PoolStatusResponse>(Database, vhost, new Dictionary<string, string?> { ["Pool:ReconcilerEnabled"] = "false" });
        // Start both hosts now so consumers are bound before any test publishes.
        _ = Agents.Server;
        _ = Pool.Server;
    }

    public async Task DisposeAsync()
    {
        await Agents.DisposeAsync();
        await Pool.DisposeAsync();
    }

    public HttpClient AgentsAs(string? token) => Agents.ClientFor(token);

    public async Task<AgentResponse> CreateAgentAsync(string userId, string name = "agent")
    {
        using var client = AgentsAs(TestTokens.User(userId));
        var response = await client.PostAsJsonAsync("/api/agents", new CreateAgentRequest(name));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<AgentResponse>())!;
    }

    /// <summary>Fills the pool through the pool API: target, then one reconcile pass (the simulator boots at once).</summary>
    public async Task ProvisionPoolAsync(int size)
    {
        using var ops = Pool.ClientFor(TestTokens.Operator());
        (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(size))).EnsureSuccessStatusCode();
        (await ops.PostAsync("/api/pool/reconcile", null)).EnsureSuccessStatusCode();
    }

    /// <summary>Empties the pool without the provider, for tests that need an exact pool.</summary>
    public Task ClearPoolAsync() => ExecuteAsync("DELETE FROM parked_machines; UPDATE pool_settings SET target_size = 0");

    public async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
