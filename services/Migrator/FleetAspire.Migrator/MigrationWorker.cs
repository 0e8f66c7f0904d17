using System.Diagnostics;
using FleetAspire.Data;
using FleetAspire.Names;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Migrator;

/// <summary>
/// Applies the baseline and expand migrations, then stops the host. The services WaitForCompletion on this
/// resource, so exactly one process migrates and no replica races another (docs/adr/0003).
/// </summary>
public sealed partial class MigrationWorker(
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILogger<MigrationWorker> logger) : BackgroundService
{
    private static readonly ActivitySource Source = new(TelemetryNames.ActivitySource);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var activity = Source.StartActivity("migrate fleet database");
        try
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
            var pending = (await db.Database.GetPendingMigrationsAsync(stoppingToken)).ToList();
            LogPending(logger, pending.Count, string.Join(", ", pending));
            await db.Database.MigrateAsync(stoppingToken);
            LogDone(logger);
        }
        catch (Exception ex)
        {
            activity?.AddException(ex);
            LogFailed(logger, ex);
            // A non-zero exit makes WaitForCompletion fail the dependants instead of starting them on an old schema.
            Environment.ExitCode = 1;
        }

        lifetime.StopApplication();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} migration(s): {Names}")]
    private static partial void LogPending(ILogger logger, int count, string names);

    [LoggerMessage(Level = LogLevel.Information, Message = "Fleet database is up to date")]
    private static partial void LogDone(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Migration failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
