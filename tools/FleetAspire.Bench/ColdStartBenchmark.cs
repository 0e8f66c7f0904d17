using System.Diagnostics;
using System.Globalization;
using FleetAspire.Names;
using FleetAspire.Testing;

namespace FleetAspire.Bench;

/// <summary>
/// <c>dotnet run --project AppHost</c> the way a developer starts it — its own build check included — with a fresh
/// local data directory (a new PostgreSQL cluster, a new RabbitMQ node), until all five services answer <c>/health</c>
/// on their fixed ports; then Ctrl+C. Run from the repository root, after a build, with nothing else on ports
/// 5101–5105. Last line: <c>coldstart runs=N seconds_median=S seconds_max=M</c>.
/// </summary>
internal static class ColdStartBenchmark
{
    private static readonly int[] Ports = [ServicePorts.Agents, ServicePorts.Machines, ServicePorts.Pool, ServicePorts.Snapshots, ServicePorts.Migration];

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var runs = options.Int("runs", 3);
        var starts = new List<double>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        for (var run = 1; run <= runs; run++)
        {
            var data = Path.Combine(Path.GetTempPath(), $"fleet-coldstart-{Guid.NewGuid():N}");
            var start = new ProcessStartInfo("dotnet", ["run", "--project", "AppHost", "--", $"--Infrastructure:Local:DataDirectory={data}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var clock = Stopwatch.StartNew();
            using var apphost = Process.Start(start)!;
            var stdout = apphost.StandardOutput.ReadToEndAsync();
            var stderr = apphost.StandardError.ReadToEndAsync();
            var healthy = new HashSet<int>();
            while (healthy.Count < Ports.Length && clock.Elapsed < TimeSpan.FromMinutes(3) && !apphost.HasExited)
            {
                foreach (var port in Ports.Except(healthy))
                {
                    try
                    {
                        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"));
                        if (response.IsSuccessStatusCode)
                        {
                            healthy.Add(port);
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        // Not up yet.
                    }
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100)); // the probe's pace, not a wait for anything
            }

            var started = clock.Elapsed.TotalSeconds;
            // Ctrl+C, as a developer stops it: a terminal sends SIGINT to dotnet run and to the AppHost it started; the
            // AppHost stops everything it started (DCP, PostgreSQL, RabbitMQ, epmd, the services) before it exits.
            foreach (var pid in ChildProcesses.Descendants(apphost.Id).Prepend(apphost.Id))
            {
                Process.Start("kill", ["-INT", pid.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            }

            await apphost.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);
            Directory.Delete(data, recursive: true);
            if (healthy.Count < Ports.Length)
            {
                Console.Error.WriteLine($"run {run}: only {healthy.Count}/{Ports.Length} services became healthy in {started:0.0} s; the AppHost said:");
                Console.Error.WriteLine(await stdout);
                Console.Error.WriteLine(await stderr);
                return 1;
            }

            Console.WriteLine($"run {run}: healthy after {started:0.0} s");
            starts.Add(started);
        }

        static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"coldstart runs={runs} seconds_median={Median(starts):0.0} seconds_max={starts.Max():0.0}"));
        return 0;
    }
}
