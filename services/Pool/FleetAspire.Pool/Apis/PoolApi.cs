using System.Security.Claims;
using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Reads;
using FleetAspire.Names;
using FleetAspire.Pool.Application;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Pool.Apis;

public static class PoolApi
{
    /// <summary>The pool is operated, not used: every endpoint is operator-only.</summary>
    public static IEndpointRouteBuilder MapPoolApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/pool").WithTags("Pool").RequireAuthorization(AuthNames.OperatorPolicy);
        api.MapGet("/", GetStatus).WithName("GetPoolStatus");
        api.MapPut("/target", SetTarget).WithName("SetPoolTarget").WithSummary("Set the number of machines the pool keeps");
        api.MapGet("/machines", ListMachines).WithName("ListPoolMachines");
        api.MapPost("/reconcile", Reconcile).WithName("ReconcilePool").WithSummary("Run one reconcile pass now");
        return app;
    }

    public static async Task<Ok<PoolStatusResponse>> GetStatus(FleetDbContext db, IPoolReads reads, ICloudProvider provider, CancellationToken cancellationToken) =>
        TypedResults.Ok(await StatusAsync(db, reads, provider, cancellationToken));

    public static async Task<Results<Ok<PoolStatusResponse>, ValidationProblem>> SetTarget(
        SetPoolTargetRequest? request, ClaimsPrincipal caller, FleetDbContext db, IPoolReads reads, ICloudProvider provider,
        ReconcileSignal reconcile, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("targetSize", request?.TargetSize is >= 0 and <= PoolOptions.MaxTargetSize
            ? null
            : $"must be between 0 and {PoolOptions.MaxTargetSize}");
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var now = time.GetUtcNow();
        var operatorId = caller.UserId();
        await db.PoolSettings.ExecuteUpdateAsync(s => s
            .SetProperty(p => p.TargetSize, request!.TargetSize!.Value)
            .SetProperty(p => p.UpdatedAt, now)
            .SetProperty(p => p.UpdatedBy, operatorId), cancellationToken);
        reconcile.Notify();
        return TypedResults.Ok(await StatusAsync(db, reads, provider, cancellationToken));
    }

    public static async Task<Results<Ok<ParkedMachinePage>, ValidationProblem>> ListMachines(
        IPoolReads reads, [FromQuery] string? status, [FromQuery] string? after, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("status", status is null or MachineStatus.Launching or MachineStatus.Ready ? null : "must be 'launching' or 'ready'")
            .Check("after", InputRules.Cursor(after))
            .Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var take = limit ?? InputRules.DefaultPageSize;
        var page = await reads.PageAsync(status, after, take, cancellationToken);
        var rows = page.Select(p => new ParkedMachineResponse(p.Id, p.ProviderId, p.Name, p.Ipv4, p.Status, p.CreatedAt)).ToList();
        var items = rows.Take(take).ToList();
        return TypedResults.Ok(new ParkedMachinePage(items, rows.Count > take ? items[^1].Id : null));
    }

    public static async Task<Ok<ReconcileReport>> Reconcile(PoolReconciler reconciler, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reconciler.ReconcileOnceAsync(cancellationToken));

    private static async Task<PoolStatusResponse> StatusAsync(FleetDbContext db, IPoolReads reads, ICloudProvider provider, CancellationToken cancellationToken)
    {
        var settings = await db.PoolSettings.AsNoTracking().SingleAsync(cancellationToken);
        var counts = await reads.CountsAsync(cancellationToken);
        return new PoolStatusResponse(
            settings.TargetSize,
            counts.GetValueOrDefault(MachineStatus.Launching),
            counts.GetValueOrDefault(MachineStatus.Ready),
            provider.Name,
            settings.UpdatedAt);
    }
}
