using System.Security.Claims;
using FleetAspire.Data;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Snapshots.Apis;

public sealed record SnapshotResponse(string Id, string MachineId, string? ProviderImageId, string Status, long? SizeBytes, DateTimeOffset CreatedAt);

public static class SnapshotsApi
{
    public static IEndpointRouteBuilder MapSnapshotsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/snapshots").WithTags("Snapshots").RequireAuthorization();
        api.MapGet("/", ListByMachine).WithName("ListSnapshots").WithSummary("Snapshots of one machine, by its legacy machine id");
        return app;
    }

    /// <summary>
    /// Users see snapshots of machines their agents hold or their custom machines; operators see any.
    /// </summary>
    public static async Task<Results<Ok<IReadOnlyList<SnapshotResponse>>, ValidationProblem>> ListByMachine(
        ClaimsPrincipal caller, FleetDbContext db, [FromQuery] string? machineId, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("machineId", machineId is not null && InputRules.IsPlausibleId(machineId) ? null : "is required and must be a machine id");
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        if (!caller.IsOperator())
        {
            var userId = caller.UserId();
            var owns = await db.Agents.AnyAsync(a => a.MachineId == machineId && a.UserId == userId, cancellationToken)
                       || await db.CustomMachines.AnyAsync(c => c.Id == machineId && c.UserId == userId, cancellationToken);
            if (!owns)
            {
                return TypedResults.Ok<IReadOnlyList<SnapshotResponse>>([]);
            }
        }

        var snapshots = await db.MachineSnapshots.AsNoTracking()
            .Where(s => s.MachineId == machineId)
            .OrderByDescending(s => s.CreatedAt)
            .Select(s => new SnapshotResponse(s.Id, s.MachineId, s.ProviderImageId, s.Status, s.SizeBytes, s.CreatedAt))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<SnapshotResponse>>(snapshots);
    }
}
