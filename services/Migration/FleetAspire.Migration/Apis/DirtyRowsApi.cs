using System.Security.Claims;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Migration.Application;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FleetAspire.Migration.Apis;

/// <summary>The dirty rows the backfill quarantined, as operators work through them (ADR 0016).</summary>
public static class DirtyRowsApi
{
    public const int MaxResolutionLength = 500;
    public const int MaxPageSize = 1000;
    public const int DefaultPageSize = 100;

    public static RouteGroupBuilder MapDirtyRowsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/dirty", List).WithName("ListDirtyRows")
            .WithSummary("Dirty rows, keyset-paged: ?class=&entity=&handling=operator|tombstone&state=open|resolved&after=&limit=1..1000");
        api.MapGet("/dirty/classes", Classes).WithName("ListDirtyClasses")
            .WithSummary("Every class of dirty row: what it means, who handles it, what happens if it is left, how many are open");
        api.MapPost("/dirty/resolve", Resolve).WithName("ResolveDirtyRow").AllowedIn(ControlOperations.ResolveDirty)
            .WithSummary("Record a resolution for one dirty row (e.g. the legacy row is wrong and goes with the contract): closes its open reports");
        api.MapPost("/dirty/resolve-all", ResolveAll).WithName("ResolveDirtyRows").AllowedIn(ControlOperations.ResolveDirty)
            .WithSummary("Record one resolution for every open report of a class (optionally of one entity): audited with its reason and count");
        return api;
    }

    public static async Task<Results<Ok<Page<DirtyRow>>, ValidationProblem>> List(DirtyRows dirty,
        [FromQuery(Name = "class")] string? className, [FromQuery] string? entity, [FromQuery] string? handling, [FromQuery] string? state,
        [FromQuery] string? after, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("class", className is null || IsClass(className) ? null : "is not a dirty-row class (GET /api/migration/dirty/classes)")
            .Check("entity", entity is null || IsEntity(entity) ? null : "is not a legacy table")
            .Check("handling", handling is null or DirtyHandling.Operator or DirtyHandling.Tombstone ? null : "must be 'operator' or 'tombstone'")
            .Check("state", state is null or "open" or "resolved" ? null : "must be 'open' or 'resolved'")
            .Check("after", DirtyCursor.TryDecode(after, out var cursor) || after is null ? null : "is not a cursor this API issued")
            .Check("limit", limit is null or (>= 1 and <= MaxPageSize) ? null : $"must be between 1 and {MaxPageSize}");
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var filter = new DirtyFilter(className, entity, handling, state switch { "open" => true, "resolved" => false, _ => null });
        var (rows, next) = await dirty.PageAsync(filter, cursor, limit ?? DefaultPageSize, cancellationToken);
        return TypedResults.Ok(new Page<DirtyRow>(rows, next));
    }

    public static async Task<Ok<IReadOnlyList<DirtyClassInfo>>> Classes(DirtyRows dirty, CancellationToken cancellationToken)
    {
        var open = await dirty.OpenCountsAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<DirtyClassInfo>>(DirtyClasses.All
            .Select(c => new DirtyClassInfo(c.Name, c.Entity, c.Handling, c.Migrated, c.Meaning, c.IfLeft, open.GetValueOrDefault((c.Name, c.Entity))))
            .ToList());
    }

    public static async Task<Results<Ok<DirtyResolved>, ValidationProblem, ProblemHttpResult>> Resolve(
        DirtyResolution request, ClaimsPrincipal caller, DirtyRows dirty, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("entity", string.IsNullOrWhiteSpace(request.Entity) ? "is required" : IsEntity(request.Entity) ? null : "is not a legacy table")
            .Check("entityId", string.IsNullOrWhiteSpace(request.EntityId) ? "is required" : null)
            .Check("class", request.Class is null || IsClass(request.Class) ? null : "is not a dirty-row class")
            .Check("resolution", ResolutionError(request.Resolution));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var resolved = await dirty.ResolveRowAsync(request.Entity!, request.EntityId!, request.Class, request.Resolution!, caller.UserId(), cancellationToken);
        return resolved == 0
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No open dirty row",
                detail: $"{request.Entity} {request.EntityId} has no open dirty report{(request.Class is null ? "" : $" of class {request.Class}")}.")
            : TypedResults.Ok(new DirtyResolved(request.Entity!, request.EntityId!, resolved));
    }

    public static async Task<Results<Ok<DirtyBulkResolved>, ValidationProblem, ProblemHttpResult>> ResolveAll(
        DirtyBulkResolution request, ClaimsPrincipal caller, DirtyRows dirty, CancellationToken cancellationToken)
    {
        // A class is required: "resolve everything" is not a decision anybody took.
        var errors = new FieldErrors()
            .Check("class", string.IsNullOrWhiteSpace(request.Class) ? "is required: a bulk resolution is a decision about one class"
                : IsClass(request.Class) ? null : "is not a dirty-row class (GET /api/migration/dirty/classes)")
            .Check("entity", request.Entity is null || IsEntity(request.Entity) ? null : "is not a legacy table")
            .Check("resolution", ResolutionError(request.Resolution));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var resolved = await dirty.ResolveAllAsync(new DirtyFilter(request.Class, request.Entity, null, true), request.Resolution!, caller.UserId(),
            cancellationToken);
        return resolved == 0
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No open dirty rows",
                detail: $"No open report of class {request.Class}{(request.Entity is null ? "" : $" on {request.Entity}")}.")
            : TypedResults.Ok(new DirtyBulkResolved(request.Class!, request.Entity, resolved));
    }

    private static string? ResolutionError(string? resolution) =>
        string.IsNullOrWhiteSpace(resolution) ? "is required: the audit keeps why the row may go as it is"
        : resolution.Length > MaxResolutionLength ? $"must be at most {MaxResolutionLength} characters" : null;

    private static bool IsClass(string value) => DirtyClasses.All.Any(c => c.Name == value);

    private static bool IsEntity(string value) => DirtyClasses.All.Any(c => c.Entity == value);
}
