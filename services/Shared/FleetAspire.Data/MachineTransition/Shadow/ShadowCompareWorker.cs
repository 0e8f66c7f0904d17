using System.Diagnostics;
using System.Diagnostics.Metrics;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Names;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FleetAspire.Data.MachineTransition.Shadow;

/// <summary>
/// Runs the sampled comparisons one at a time, each in its own scope: records what differs in
/// <c>migration_divergences</c> (source <c>shadow</c>), resolves the shadow records of what compared clean, and makes
/// every divergence a span event on a span linked to the request that found it (shared keys only as "differs").
/// A failed comparison is logged and counted; it never reaches the request, which has long been answered.
/// </summary>
public sealed partial class ShadowCompareWorker(
    ShadowCompareQueue queue,
    IServiceScopeFactory scopes,
    IMeterFactory meters,
    ILogger<ShadowCompareWorker> logger) : BackgroundService
{
    private static readonly ActivitySource Source = new(TelemetryNames.ActivitySource);
    private readonly Meter _meter = meters.Create(TelemetryNames.Meter);
    private long _done;

    /// <summary>Comparisons finished since start.</summary>
    public long Done => Interlocked.Read(ref _done);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var done = _meter.CreateCounter<long>(ShadowTelemetry.Done, description: "Shadow comparisons finished");
        var duration = _meter.CreateHistogram<double>(ShadowTelemetry.Duration, unit: "ms", description: "Time a shadow comparison took, off the request path");
        var found = _meter.CreateCounter<long>(ShadowTelemetry.DivergencesFound, description: "Divergences found, by field, kind and source");
        try
        {
            await foreach (var work in queue.Reader.ReadAllAsync(stoppingToken))
            {
                var links = work.Request == default ? null : new[] { new ActivityLink(work.Request) };
                using var span = Source.StartActivity(work.Source == ShadowTelemetry.SourceWriteCheck ? "migration write check" : "migration shadow compare", ActivityKind.Internal, parentContext: default, links: links);
                span?.SetTag(ShadowTelemetry.PhaseTag, work.Phase.ToString());
                span?.SetTag(ShadowTelemetry.ReadSideTag, work.ServedBy);
                var clock = Stopwatch.StartNew();
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var result = await work.CompareAsync(scope.ServiceProvider, stoppingToken);
                    await RecordAsync(scope.ServiceProvider.GetRequiredService<FleetDbContext>(), work.Source, result, stoppingToken);
                    foreach (var finding in result.Findings)
                    {
                        span?.AddEvent(new ActivityEvent(ShadowTelemetry.DivergenceEvent, tags: new ActivityTagsCollection
                        {
                            ["fleet.divergence.entity"] = finding.Entity,
                            ["fleet.divergence.id"] = finding.EntityId,
                            ["fleet.divergence.field"] = finding.Divergence.Field,
                            ["fleet.divergence.kind"] = finding.Divergence.Kind,
                            ["fleet.divergence.source"] = work.Source,
                            [ShadowTelemetry.PhaseTag] = work.Phase.ToString(),
                        }));
                        found.Add(1, new("field", finding.Divergence.Field), new("kind", finding.Divergence.Kind),
                            new("source", work.Source));
                    }

                    span?.SetTag("fleet.divergence.count", result.Findings.Count);
                    Interlocked.Increment(ref _done);
                    done.Add(1, new KeyValuePair<string, object?>(ShadowTelemetry.PhaseTag, work.Phase.ToString()));
                }
                catch (Exception ex) when (Backoff.IsIterationFailure(ex, stoppingToken))
                {
                    span?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
                    LogCompareFailed(logger, ex.GetType().Name);
                }

                duration.Record(clock.Elapsed.TotalMilliseconds, new KeyValuePair<string, object?>(ShadowTelemetry.PhaseTag, work.Phase.ToString()));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static async Task RecordAsync(FleetDbContext db, string source, ShadowResult result, CancellationToken cancellationToken)
    {
        foreach (var (entity, id, divergence) in result.Findings)
        {
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO migration_divergences (entity, entity_id, field, kind, legacy_value, machine_value, source)
                VALUES ({entity}, {id}, {divergence.Field}, {divergence.Kind}, {divergence.LegacyValue}, {divergence.MachineValue}, {source})
                ON CONFLICT (entity, entity_id, field, kind) DO UPDATE SET last_seen = now(), resolved_at = NULL,
                    legacy_value = EXCLUDED.legacy_value, machine_value = EXCLUDED.machine_value
                """, cancellationToken);
        }

        foreach (var (entity, id) in result.Clean)
        {
            await db.Database.ExecuteSqlAsync($"""
                UPDATE migration_divergences SET resolved_at = now()
                WHERE entity = {entity} AND entity_id = {id} AND source = {source} AND resolved_at IS NULL
                """, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A shadow comparison failed ({ExceptionType}); the request it sampled was not affected")]
    private static partial void LogCompareFailed(ILogger logger, string exceptionType);
}
