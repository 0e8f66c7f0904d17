using FleetAspire.Testing;

namespace FleetAspire.AppHost.Tests;

/// <summary>
/// The whole distributed app, started once per collection the way <c>dotnet run --project AppHost</c> starts it, in
/// local infrastructure mode with throwaway data and free infrastructure ports (<see cref="AppHostRun"/>).
/// </summary>
public sealed class FleetAppHostFixture : IAsyncLifetime
{
    /// <summary>Settings the AppHost must pass to the control service explicitly (one test reads them back).</summary>
    public static readonly string[] Settings = ["Phases:QuietPeriod=00:07:00", "Phases:ContractSoak=02:00:00", "Phases:OldCodeWindow=00:03:00"];

    public AppHostRun Run { get; private set; } = null!;

    public DistributedApplication App => Run.App;

    public async Task InitializeAsync() => Run = await AppHostRun.StartAsync<Projects.FleetAspire_AppHost>(Settings);

    public async Task DisposeAsync() => await Run.DisposeAsync();

    public HttpClient DashboardTelemetry() => Run.DashboardTelemetry();

    public HttpClient Client(string resource, string? token) => Run.Client(resource, token);
}

[CollectionDefinition(Name)]
public sealed class FleetAppHostCollection : ICollectionFixture<FleetAppHostFixture>
{
    public const string Name = "apphost";
}
