using System.Diagnostics;
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
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
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
            .Where(o => o.SentAt == null)
            .OrderBy(o => o.Id)
            .Take(options.Value.BatchSize)
            .ToListAsync(cancellationToken);

        if (batch.Count == 0)
        {
            var cutoff = DateTimeOffset.UtcNow - options.Value.SentRetention;
            await db.OutboxMessages.Where(o => o.SentAt != null && o.SentAt < cutoff).ExecuteDeleteAsync(cancellationToken);
            return 0;
        }

        // Publish in order; stop at the first failure so nothing overtakes it. Rows published before the failure
        // are marked sent together, in one statement, whatever happens next.
        var sent = new List<long>(batch.Count);
        try
        {
            foreach (var row in batch)
            {
                try
                {
                    await PublishAsync(publisher, row, cancellationToken);
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

    private async Task PublishAsync(IPublishEndpoint publisher, OutboxMessage row, CancellationToken cancellationToken)
    {
        var type = OutboxSerializer.ResolveType(row.MessageType);
        var message = JsonSerializer.Deserialize(row.Payload, type, OutboxSerializer.Options)
                      ?? throw new InvalidOperationException($"Outbox row {row.Id} has an empty payload.");

        // Continue the trace of the request that wrote the row, so HTTP request and consumer are one trace.
        using var activity = row.TraceParent is not null && ActivityContext.TryParse(row.TraceParent, null, out var parent)
            ? OutboxTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, parent)
            : OutboxTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer);
        activity?.SetTag("messaging.message.type", type.Name);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        await publisher.Publish(message, type, ctx => ctx.MessageId = row.MessageId, timeout.Token);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch failed ({ExceptionType}); retrying in {BackoffMs} ms")]
    private static partial void LogDispatchFailed(ILogger logger, string exceptionType, double backoffMs);
}
