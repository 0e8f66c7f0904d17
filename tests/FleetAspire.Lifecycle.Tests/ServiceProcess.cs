using System.Diagnostics;
using System.Net;
using FleetAspire.Names;
using FleetAspire.Testing;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// A service run as its own OS process from its build output, so a test can kill it like a crash would
/// (SIGKILL: no shutdown hooks, no flush).
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public static async Task<ServiceProcess> StartAsync(string project, string database, string amqpUri, IDictionary<string, string>? settings = null)
    {
        var dll = Path.Combine(RepositoryRoot(), "services", project, $"FleetAspire.{project}", "bin", BuildConfiguration(), "net10.0", $"FleetAspire.{project}.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Build the solution first: {dll} is missing.");
        }

        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        start.Environment[$"ConnectionStrings__{ResourceNames.FleetDatabase}"] = database;
        start.Environment[$"ConnectionStrings__{ResourceNames.RabbitMq}"] = amqpUri;
        start.Environment["Auth__SigningKey"] = TestTokens.SigningKey;
        start.Environment["Outbox__PollInterval"] = "00:00:00.100";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(process, new Uri($"http://127.0.0.1:{port}"));
        using var http = new HttpClient { BaseAddress = service.BaseAddress };
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/alive")).StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), $"{project} did not start");
        return service;
    }

    /// <summary>SIGKILL: the process gets no chance to publish, flush or roll back anything.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public HttpClient Client(string token)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FleetAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("FleetAspire.sln not found above the test output folder.");
    }

    /// <summary>The services were built in the same configuration as this test assembly.</summary>
    private static string BuildConfiguration() =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
