using FleetAspire.Names;
using FleetAspire.OldWriter;
using Npgsql;

// The old-version writer (docs/adr/0013): off by default in the AppHost (start it from the dashboard); writes legacy
// columns only, the way the pre-migration build does, once per interval until stopped.
var connectionString = Environment.GetEnvironmentVariable($"ConnectionStrings__{ResourceNames.FleetDatabase}")
    ?? throw new InvalidOperationException($"Connection string '{ResourceNames.FleetDatabase}' is missing.");
var interval = TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("OLD_WRITER_INTERVAL_MS"), out var ms) ? ms : 1000);
await using var dataSource = NpgsqlDataSource.Create(connectionString);
var writer = new OldCodeWriter(dataSource, owner: "old-build");
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
Console.WriteLine($"old-version writer: one round every {interval.TotalMilliseconds} ms");
while (!stop.IsCancellationRequested)
{
    try
    {
        await writer.RunOnceAsync(stop.Token);
    }
    catch (NpgsqlException ex)
    {
        Console.WriteLine($"old-version writer: {ex.GetType().Name}, retrying");
    }
    catch (OperationCanceledException)
    {
        break;
    }

    await Task.Delay(interval, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
}
