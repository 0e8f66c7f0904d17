using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using FleetAspire.Names;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Testing;

/// <summary>
/// The whole distributed app, started the way <c>dotnet run --project AppHost</c> starts it — the real AppHost, in
/// local infrastructure mode with throwaway data and free infrastructure ports — with the dashboard on, so a test sees
/// what an operator sees. <typeparamref name="TAppHost"/> is the generated <c>Projects.FleetAspire_AppHost</c>.
/// </summary>
public sealed class AppHostRun : IAsyncDisposable
{
    public static readonly string[] Services = [ResourceNames.Agents, ResourceNames.Machines, ResourceNames.Pool, ResourceNames.Snapshots, ResourceNames.Migration];
    private const string DashboardResource = "aspire-dashboard";

    private readonly string _dataDirectory;

    private AppHostRun(DistributedApplication app, string dataDirectory) => (App, _dataDirectory) = (app, dataDirectory);

    public DistributedApplication App { get; }

    /// <param name="settings">More AppHost configuration (<c>Key=value</c>, as on its command line), e.g. <c>Phases:QuietPeriod=00:00:10</c>.</param>
    public static async Task<AppHostRun> StartAsync<TAppHost>(IEnumerable<string>? settings = null, TimeSpan? timeout = null) where TAppHost : class
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"fleet-apphost-test-{Guid.NewGuid():N}");
        string[] args =
        [
            "--Infrastructure:Mode=local",
            $"--Infrastructure:Local:DataDirectory={dataDirectory}",
            "--Infrastructure:Local:PostgresPort=0",
            "--Infrastructure:Local:RabbitMqPort=0",
            "--Infrastructure:Local:RabbitMqDistPort=0",
            "--Infrastructure:Local:EpmdPort=0",
            $"--Parameters:auth-signing-key={TestTokens.SigningKey}",
            .. (settings ?? []).Select(s => "--" + s),
        ];
        // The testing builder turns the dashboard off; this app runs with it.
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<TAppHost>(args, (options, _) =>
        {
            options.DisableDashboard = false;
            options.AllowUnsecuredTransport = true;
        });
        var app = await builder.BuildAsync();
        var run = new AppHostRun(app, dataDirectory);
        try
        {
            using var startup = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
            await app.StartAsync(startup.Token);
            foreach (var service in Services)
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(service, startup.Token);
            }
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }

        return run;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        ChildProcesses.DeleteOnExit(_dataDirectory);
    }

    /// <summary>A client of a service as <paramref name="token"/> (null: anonymous), with a timeout that fails fast on a dead port.</summary>
    public HttpClient Client(string resource, string? token, TimeSpan? timeout = null)
    {
        var client = App.CreateHttpClient(resource, "http");
        client.Timeout = timeout ?? TimeSpan.FromSeconds(30);
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        }

        return client;
    }

    public ValueTask<string?> ConnectionStringAsync(string resource) => App.GetConnectionStringAsync(resource);

    /// <summary>
    /// A client of the dashboard's telemetry API (the one <c>aspire otel spans</c> reads), at the address and with the API
    /// key the AppHost gave the dashboard (the testing builder picks free ports).
    /// </summary>
    public HttpClient DashboardTelemetry()
    {
        if (!App.ResourceNotifications.TryGetCurrentState(DashboardResource, out var dashboard))
        {
            throw new InvalidOperationException("no dashboard resource");
        }

        var environment = dashboard.Snapshot.EnvironmentVariables;
        var key = environment.FirstOrDefault(e => e.Name == "DASHBOARD__API__PRIMARYAPIKEY")?.Value;
        var urls = environment.FirstOrDefault(e => e.Name == "ASPNETCORE_URLS")?.Value
                   ?? throw new InvalidOperationException("the dashboard resource has no ASPNETCORE_URLS");
        var client = new HttpClient { BaseAddress = new Uri(urls.Split(';')[0]) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add("x-api-key", key);
        }

        return client;
    }

    /// <summary>The process id DCP reports for a resource (for a project: its <c>dotnet run</c>).</summary>
    public int ProcessId(string resource)
    {
        if (!App.ResourceNotifications.TryGetCurrentState(resource, out var state))
        {
            throw new InvalidOperationException($"no resource {resource}");
        }

        var pid = state.Snapshot.Properties.FirstOrDefault(p => p.Name.EndsWith(".pid", StringComparison.Ordinal))?.Value
                  ?? throw new InvalidOperationException($"{resource} reports no process id: " +
                                                         string.Join(", ", state.Snapshot.Properties.Select(p => p.Name)));
        return Convert.ToInt32(pid, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// SIGKILLs a service the way a crash or an OOM kill ends it: its process and every process under it, no shutdown.
    /// Returns the ids killed.
    /// </summary>
    public IReadOnlyList<int> Kill(string resource)
    {
        var root = ProcessId(resource);
        var tree = ChildProcesses.Descendants(root).Prepend(root).ToList();
        foreach (var pid in tree)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-9", pid.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardError = true,
            })!;
            kill.WaitForExit();
        }

        return tree;
    }

    /// <summary>Waits until the resource has a process other than <paramref name="killed"/> and reports healthy.</summary>
    public async Task WaitRestartedAsync(string resource, IReadOnlyCollection<int> killed, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        await Eventually.TrueAsync(() =>
        {
            try
            {
                return Task.FromResult(!killed.Contains(ProcessId(resource)));
            }
            catch (InvalidOperationException)
            {
                return Task.FromResult(false);
            }
        }, timeout, $"{resource} was not started again");
        await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, deadline.Token);
    }

    /// <summary>Runs a resource command (start, stop, restart) as the dashboard would.</summary>
    public Task<ExecuteCommandResult> CommandAsync(string resource, string command) =>
        App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resource, command);
}
