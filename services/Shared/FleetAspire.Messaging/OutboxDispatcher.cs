using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using FleetAspire.Data;
using FleetAspire.Data.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FleetAspire.Messaging;

/// <summary>
/// Publishes outbox rows in id order and marks them sent.
/// </summary>
/// <remarks>
/// One dispatcher across all replicas holds a session advisory lock while it works, which keeps the global (and so
/// per-aggregate) order without coordinating batches. A failed publish stops the batch, so nothing overtakes it, and
/// the dispatcher backs off exponentially up to <see cref="OutboxOptions.MaxBackoff"/>. Delivery is at least once:
/// a crash after publish and before the row is marked sent republishes it with the same MessageId, and consumers
/// are idempotent.
/// </remarks>
public sealed partial class OutboxDispatcher(
    IServiceScopeFactory scopes,
    OutboxSignal signal,
    IOptions<OutboxOptions> options,
    IMeterFactory meters,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    public const string ParkedMetric = "fleet.outbox.parked";

    private readonly Counter<long> _parked = meters.Create(Names.TelemetryNames.Meter)
        .CreateCounter<long>(ParkedMetric, "{message}", "Outbox rows parked because they cannot be read; see GET /api/outbox/parked");

    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(1);

    private DateTimeOffset _nextPurge = DateTimeOffset.MinValue;

    /// <summary>Advisory lock key shared by every dispatcher ("outbox" in ASCII).</summary>
    private const long DispatcherLockKey = 0x6F7574626F78;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var published = await DispatchOnceAsync(stoppingToken);
                backoff = TimeSpan.Zero;
                if (published > 0)
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero
                    ? TimeSpan.FromMilliseconds(250)
                    : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.Value.MaxBackoff.Ticks));
                LogDispatchFailed(logger, ex.GetType().Name, backoff.TotalMilliseconds);
                await Task.Delay(backoff, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            await signal.WaitAsync(options.Value.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Publishes one batch; returns how many rows were sent (0 when idle or another replica dispatches).</summary>
    public async Task<int> DispatchOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var publisher = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        await using var held = await SessionLock.TryAcquireAsync(db, DispatcherLockKey, cancellationToken);
        return held is null ? 0 : await PublishBatchAsync(db, publisher, cancellationToken);
    }

    private async Task<int> PublishBatchAsync(FleetDbContext db, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var batch = await db.OutboxMessages.AsNoTracking()
            .Where(o => o.SentAt == null && o.ParkedAt == null)
            .OrderBy(o => o.Id)
            .Take(options.Value.BatchSize)
            .ToListAsync(cancellationToken);

        if (batch.Count == 0)
        {
            // The purge is housekeeping for rows a day old: once a minute is plenty. Run on every idle poll it was
            // a third of the dispatcher's database time under steady writes (a poll follows nearly every commit).
            var now = DateTimeOffset.UtcNow;
            if (now >= _nextPurge)
            {
                _nextPurge = now + PurgeInterval;
                var cutoff = now - options.Value.SentRetention;
                await db.OutboxMessages.Where(o => o.SentAt != null && o.SentAt < cutoff).ExecuteDeleteAsync(cancellationToken);
            }

            return 0;
        }

        // Publish in order; stop at the first failure so nothing overtakes it. Rows published before the failure
        // are marked sent together, in one statement, whatever happens next.
        var sent = new List<long>(batch.Count);
        try
        {
            foreach (var row in batch)
            {
                if (!TryRead(row, out var type, out var message, out var unreadable))
                {
                    // Unreadable is a property of the row, not of the broker: retried a few times (a newer build may be
                    // rolling out the type), then parked so the rows behind it are delivered.
                    var parked = row.Attempts + 1 >= options.Value.PoisonAfterAttempts;
                    await db.OutboxMessages.Where(o => o.Id == row.Id).ExecuteUpdateAsync(u => u
                        .SetProperty(o => o.Attempts, o => o.Attempts + 1)
                        .SetProperty(o => o.LastError, unreadable)
                        .SetProperty(o => o.ParkedAt, o => parked ? DateTimeOffset.UtcNow : o.ParkedAt), CancellationToken.None);
                    if (!parked)
                    {
                        // Nothing overtakes it yet: the batch stops here and the row is tried again at the next poll —
                        // without the broker's back-off, which is for the broker.
                        break;
                    }

                    _parked.Add(1, new KeyValuePair<string, object?>("messaging.message.type", row.MessageType));
                    LogParked(logger, row.Id, row.MessageType, unreadable);
                    continue;
                }

                try
                {
                    await PublishAsync(publisher, row, type, message, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    var error = ex.GetType().Name;
                    await db.OutboxMessages.Where(o => o.Id == row.Id).ExecuteUpdateAsync(
                        u => u.SetProperty(o => o.Attempts, o => o.Attempts + 1).SetProperty(o => o.LastError, error),
                        CancellationToken.None);
                    throw;
                }

                sent.Add(row.Id);
            }
        }
        finally
        {
            if (sent.Count > 0)
            {
                var now = DateTimeOffset.UtcNow;
                await db.OutboxMessages.Where(o => sent.Contains(o.Id)).ExecuteUpdateAsync(
                    u => u.SetProperty(o => o.SentAt, now).SetProperty(o => o.Attempts, o => o.Attempts + 1),
                    CancellationToken.None);
            }
        }

        return sent.Count;
    }

    /// <summary>The row's message, or why it cannot be read (the exception's type: never the payload, which is data).</summary>
    private static bool TryRead(OutboxMessage row, out Type type, out object message, out string unreadable)
    {
        (type, message, unreadable) = (typeof(object), new object(), string.Empty);
        try
        {
            type = OutboxSerializer.ResolveType(row.MessageType);
            message = JsonSerializer.Deserialize(row.Payload, type, OutboxSerializer.Options)
                      ?? throw new JsonException("empty payload");
            return true;
        }
        catch (Exception ex) when (ex is JsonException or TypeLoadException or FileNotFoundException or FileLoadException or ArgumentException
                                       or NotSupportedException)
        {
            unreadable = "unreadable: " + ex.GetType().Name;
            return false;
        }
    }

    private async Task PublishAsync(IPublishEndpoint publisher, OutboxMessage row, Type type, object message, CancellationToken cancellationToken)
    {
        // Continue the trace of the request that wrote the row, so HTTP request and consumer are one trace.
        using var activity = row.TraceParent is not null && ActivityContext.TryParse(row.TraceParent, null, out var parent)
            ? OutboxTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, parent)
            : OutboxTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer);
        activity?.SetTag("messaging.message.type", type.Name);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        await publisher.Publish(message, type, ctx => ctx.MessageId = row.MessageId, timeout.Token);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox row {RowId} ({MessageType}) parked: {Reason}; later events are delivered, see GET /api/outbox/parked")]
    private static partial void LogParked(ILogger logger, long rowId, string messageType, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch failed ({ExceptionType}); retrying in {BackoffMs} ms")]
    private static partial void LogDispatchFailed(ILogger logger, string exceptionType, double backoffMs);
}
