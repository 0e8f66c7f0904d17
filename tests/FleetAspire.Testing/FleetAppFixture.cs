using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using FleetAspire.Agents.Apis;
using FleetAspire.Cloud;
using FleetAspire.Machines.Apis;
using FleetAspire.Pool.Apis;
using FleetAspire.Snapshots.Apis;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit;

namespace FleetAspire.Testing;

/// <summary>
/// The four services of one test class, in-process, on their own database and RabbitMQ vhost, so cross-service
/// flows go through the real broker. The pool's reconciler and the heartbeat sweeper are off: tests decide when the
/// pool changes and when silence counts.
/// </summary>
public class FleetAppFixture : IAsyncLifetime
{
    public FleetServiceFactory<AgentResponse> Agents { get; private set; } = null!;
    public FleetServiceFactory<PoolStatusResponse> Pool { get; private set; } = null!;
    public FleetServiceFactory<CustomMachineResponse> Machines { get; private set; } = null!;
    public FleetServiceFactory<SnapshotResponse> Snapshots { get; private set; } = null!;
    public string Database { get; private set; } = null!;

    /// <summary>The fixture's RabbitMQ virtual host (AMQP URI), for tests that start a further service host on it.</summary>
    public string Broker { get; private set; } = null!;

    /// <summary>Settings every service of the fixture gets; derived fixtures may add to them.</summary>
    protected virtual Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["HealthChecks:FailureThreshold"] = "3",
    };

    /// <summary>Applied to every service host (telemetry exporters, observers); none by default.</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>The pool's simulated cloud: the servers and images that exist.</summary>
    public SimulatedCloudProvider Cloud => Pool.Services.GetRequiredService<SimulatedCloudProvider>();

    public virtual async Task InitializeAsync()
    {
        var postgres = await TestPostgres.GetAsync();
        var rabbit = await TestRabbitMq.GetAsync();
        Database = await postgres.CreateDatabaseAsync(GetType().Name);
        await PrepareDatabaseAsync(Database);
        var vhost = Broker = await rabbit.CreateVirtualHostAsync(GetType().Name);
        Agents = new FleetServiceFactory<AgentResponse>(Database, vhost, Settings, ConfigureServices);
        Pool = new FleetServiceFactory<PoolStatusResponse>(Database, vhost, Settings, ConfigureServices);
        Machines = new FleetServiceFactory<CustomMachineResponse>(Database, vhost, Settings, ConfigureServices);
        Snapshots = new FleetServiceFactory<SnapshotResponse>(Database, vhost, Settings, ConfigureServices);
        // Start every host now so consumers are bound before any test publishes.
        _ = Agents.Server;
        _ = Pool.Server;
        _ = Machines.Server;
        _ = Snapshots.Server;
    }

    /// <summary>
    /// Runs on the fresh database before any service starts; nothing by default. With the transition compiled in the
    /// database is today's (the fleet in <c>Legacy</c>); in the steady build it is already contracted (TestPostgres).
    /// </summary>
    protected virtual Task PrepareDatabaseAsync(string database) => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        await Agents.DisposeAsync();
        await Pool.DisposeAsync();
        await Machines.DisposeAsync();
        await Snapshots.DisposeAsync();
    }

    public HttpClient AgentsAs(string? token) => Agents.ClientFor(token);

    public HttpClient MachinesAs(string? token) => Machines.ClientFor(token);

    public HttpClient SnapshotsAs(string? token) => Snapshots.ClientFor(token);

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

    /// <summary>An agent of <paramref name="userId"/> holding a pool machine.</summary>
    public async Task<AgentResponse> AgentWithPoolMachineAsync(string userId)
    {
        await ProvisionPoolAsync(1);
        var agent = await CreateAgentAsync(userId);
        using var client = AgentsAs(TestTokens.User(userId));
        var response = await client.PostAsync($"/api/agents/{agent.Id}/claim", null);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<AgentResponse>())!;
    }

    /// <summary>Registers a custom machine for <paramref name="userId"/> with a fresh key; returns it and the key.</summary>
    public async Task<(CustomMachineResponse Machine, string SharedKey)> RegisterMachineAsync(string userId, string? ipv4 = null, int port = 8911)
    {
        var key = "key-" + Guid.NewGuid().ToString("N");
        using var client = MachinesAs(TestTokens.User(userId));
        var response = await client.PostAsJsonAsync("/api/machines/custom",
            new RegisterCustomMachineRequest(ipv4 ?? NextAddress(), port, key, "linux", "x86_64", 4, 8));
        response.EnsureSuccessStatusCode();
        return ((await response.Content.ReadFromJsonAsync<CustomMachineResponse>())!, key);
    }

    private static int _addresses;

    /// <summary>A different address per registration: a random one collided now and then with the same owner's last (409).</summary>
    private static string NextAddress()
    {
        var n = Interlocked.Increment(ref _addresses);
        return $"192.0.{2 + n / 254 % 200}.{1 + n % 254}";
    }

    /// <summary>Sends a heartbeat signed the way a machine signs it.</summary>
    /// <param name="at">The signed time; by default now, or a second after this machine's last heartbeat from this fixture (a
    /// machine's heartbeats carry strictly increasing times, and tests send several in one second).</param>
    public async Task<HttpResponseMessage> HeartbeatAsync(string machineId, string sharedKey, string outcome, DateTimeOffset? at = null, string? signatureOverride = null)
    {
        using var client = MachinesAs(null);
        var body = Encoding.UTF8.GetBytes("{\"outcome\":\"" + outcome + "\",\"latencyMs\":12}");
        var seconds = at?.ToUnixTimeSeconds()
                      ?? _heartbeatClocks.AddOrUpdate(machineId, _ => DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                          (_, last) => Math.Max(last + 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        var timestamp = seconds.ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/machines/heartbeats") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add(HeartbeatsApi.MachineHeader, machineId);
        request.Headers.Add(HeartbeatsApi.TimestampHeader, timestamp);
        request.Headers.Add(HeartbeatsApi.SignatureHeader, signatureOverride ?? HeartbeatsApi.Sign(sharedKey, machineId, timestamp, body));
        return await client.SendAsync(request);
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _heartbeatClocks = new();

    /// <summary>Waits until the outbox has published everything (cross-service flows start there).</summary>
    public Task OutboxDrainedAsync() =>
        Eventually.TrueAsync(async () => await ScalarAsync("SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL") == 0,
            TimeSpan.FromSeconds(20), "the outbox did not drain");

    /// <summary>Empties the pool without the provider, for tests that need an exact pool (<see cref="PoolRows"/>).</summary>
    public Task ClearPoolAsync() => PoolRows.ClearAsync(Database);

    /// <summary>An agent as an operator sees it (<c>GET /api/agents/{id}</c>).</summary>
    public async Task<AgentResponse> AgentAsync(string id)
    {
        using var ops = AgentsAs(TestTokens.Operator());
        return (await ops.GetFromJsonAsync<AgentResponse>($"/api/agents/{id}"))!;
    }

    /// <summary>The pool as operators see it (<c>GET /api/pool</c>).</summary>
    public async Task<PoolStatusResponse> PoolAsync()
    {
        using var ops = Pool.ClientFor(TestTokens.Operator());
        return (await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool"))!;
    }

    /// <summary>
    /// Row counts of the named tables that exist here (legacy tables while the transition runs, Machine's in the
    /// steady build), as one text: a request that "changes nothing" leaves it equal in either build.
    /// </summary>
    public async Task<string> RowCountsAsync(params string[] tables)
    {
        var present = await StringAsync("SELECT string_agg(t, ',' ORDER BY t) FROM unnest(@t::text[]) t WHERE to_regclass(t) IS NOT NULL", ("t", tables));
        var counts = new StringBuilder();
        foreach (var table in present!.Split(','))
        {
            counts.Append(table).Append('=').Append(await ScalarAsync($"SELECT count(*) FROM {table}")).Append(' ');
        }

        return counts.ToString();
    }

    public async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async Task<string?> StringAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteScalarAsync() as string;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
