using FleetAspire.Names;
using FleetAspire.Testing;

namespace FleetAspire.AppHost.Tests;

/// <summary>
/// The whole distributed app, started once per collection the way <c>dotnet run --project AppHost</c> starts it,
/// in local infrastructure mode with throwaway data and free ports.
/// </summary>
public sealed class FleetAppHostFixture : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), $"fleet-apphost-test-{Guid.NewGuid():N}");

    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // The testing builder turns the dashboard off; this app runs with it, so a test can see what an operator sees.
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.FleetAspire_AppHost>(
        [
            "--Infrastructure:Mode=local",
            $"--Infrastructure:Local:DataDirectory={_dataDirectory}",
            "--Infrastructure:Local:PostgresPort=0",
            "--Infrastructure:Local:RabbitMqPort=0",
            "--Infrastructure:Local:RabbitMqDistPort=0",
            "--Infrastructure:Local:EpmdPort=0",
            $"--Parameters:auth-signing-key={TestTokens.SigningKey}",
        ], (options, _) =>
        {
            options.DisableDashboard = false;
            options.AllowUnsecuredTransport = true;
        });
        builder.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler());
        App = await builder.BuildAsync();
        using var startup = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await App.StartAsync(startup.Token);
        foreach (var service in new[] { ResourceNames.Agents, ResourceNames.Machines, ResourceNames.Pool, ResourceNames.Snapshots, ResourceNames.Migration })
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, startup.Token);
        }
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        ChildProcesses.DeleteOnExit(_dataDirectory);
    }

    /// <summary>
    /// A client of the dashboard's telemetry API (the one <c>aspire otel spans</c> reads), at the address and with the
    /// API key the AppHost gave the dashboard (the testing builder picks free ports).
    /// </summary>
    public HttpClient DashboardTelemetry()
    {
        Assert.True(App.ResourceNotifications.TryGetCurrentState(DashboardResource, out var dashboard), "no dashboard resource");
        var environment = dashboard!.Snapshot.EnvironmentVariables;
        var key = environment.FirstOrDefault(e => e.Name == "DASHBOARD__API__PRIMARYAPIKEY")?.Value;
        var urls = environment.FirstOrDefault(e => e.Name == "ASPNETCORE_URLS")?.Value;
        Assert.True(urls is not null, "the dashboard resource has no ASPNETCORE_URLS");
        var client = new HttpClient { BaseAddress = new Uri(urls!.Split(';')[0]) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add("x-api-key", key);
        }

        return client;
    }

    private const string DashboardResource = "aspire-dashboard";

    public HttpClient Client(string resource, string? token)
    {
        var client = App.CreateHttpClient(resource, "http");
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        }

        return client;
    }
}

[CollectionDefinition(Name)]
public sealed class FleetAppHostCollection : ICollectionFixture<FleetAppHostFixture>
{
    public const string Name = "apphost";
}
