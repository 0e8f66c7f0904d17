using FleetAspire.Data;
using FleetAspire.Names;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FleetAspire.Messaging;

/// <summary>
/// Operators' view of outbox rows the dispatcher parked (one fleet database: every service shows the same rows): list
/// them, send one again once its type is deployed, or discard it. Operator-only.
/// </summary>
public static partial class OutboxApi
{
    public static IEndpointRouteBuilder MapOutboxApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/outbox/parked").WithTags("Outbox").RequireAuthorization(AuthNames.OperatorPolicy);
        api.MapGet("/", List).WithName("ListParkedOutboxMessages").WithSummary("Outbox rows parked as unreadable, oldest first (?after=<id>&limit=)");
        api.MapPost("/{id:long}/retry", Retry).WithName("RetryParkedOutboxMessage").WithSummary("Unpark a row: the dispatcher tries it again");
        api.MapDelete("/{id:long}", Discard).WithName("DiscardParkedOutboxMessage").WithSummary("Delete a parked row for good");
        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<ParkedMessage>>, ValidationProblem>> List(FleetDbContext db, [FromQuery] long? after,
        [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        if (limit is not null and (< 1 or > 100) || after is < 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [limit is not null and (< 1 or > 100) ? "limit" : "after"] = ["'limit' must be between 1 and 100; 'after' an id from the last page."],
            });
        }

        var rows = await db.OutboxMessages.AsNoTracking()
            .Where(o => o.ParkedAt != null && (after == null || o.Id > after))
            .OrderBy(o => o.Id).Take(limit ?? 25)
            .Select(o => new ParkedMessage(o.Id, o.MessageId, o.MessageType, o.AggregateId, o.Payload, o.Attempts, o.LastError, o.CreatedAt, o.ParkedAt!.Value))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<ParkedMessage>>(rows);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Retry(long id, FleetDbContext db, OutboxSignal signal, CancellationToken cancellationToken)
    {
        var updated = await db.OutboxMessages.Where(o => o.Id == id && o.ParkedAt != null)
            .ExecuteUpdateAsync(u => u.SetProperty(o => o.ParkedAt, (DateTimeOffset?)null).SetProperty(o => o.Attempts, 0), cancellationToken);
        if (updated == 0)
        {
            return NotParked(id);
        }

        signal.Notify();
        return TypedResults.NoContent();
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Discard(long id, FleetDbContext db, HttpContext http, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var deleted = await db.OutboxMessages.Where(o => o.Id == id && o.ParkedAt != null).ExecuteDeleteAsync(cancellationToken);
        if (deleted == 0)
        {
            return NotParked(id);
        }

        LogDiscarded(loggers.CreateLogger(typeof(OutboxApi)), id, http.User.FindFirst("sub")?.Value ?? "unknown");
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult NotParked(long id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No parked outbox row", detail: $"Outbox row {id} is not parked.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Parked outbox row {RowId} discarded by {Actor}")]
    private static partial void LogDiscarded(ILogger logger, long rowId, string actor);
}
