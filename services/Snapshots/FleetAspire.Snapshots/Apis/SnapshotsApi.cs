using System.Security.Claims;
using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Reads;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Errors;
using FleetAspire.ServiceDefaults.Validation;
using FleetAspire.Snapshots.Application;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Snapshots.Apis;

public static class SnapshotsApi
{
    public static IEndpointRouteBuilder MapSnapshotsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/snapshots").WithTags("Snapshots").RequireAuthorization();
        api.MapPost("/", Create).WithName("CreateSnapshot").WithSummary("Snapshot the machine an agent holds (pool machines only)");
        api.MapGet("/", ListByMachine).WithName("ListSnapshots").WithSummary("Snapshots of one machine, by its legacy machine id");
        api.MapGet("/{id}", Get).WithName("GetSnapshot");
        api.MapDelete("/{id}", Delete).WithName("DeleteSnapshot").WithSummary("Delete the provider image, then the snapshot");
        return app;
    }

    public static async Task<Results<Created<SnapshotResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateSnapshotRequest? request, ClaimsPrincipal caller, SnapshotService snapshots, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("agentId", request?.AgentId is { } a && InputRules.IsPlausibleId(a) ? null : "is required and must be an agent id");
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        try
        {
            var (outcome, snapshot) = await snapshots.CreateAsync(request!.AgentId!, caller.OwnerFilter(), cancellationToken);
            return outcome switch
            {
                SnapshotOutcome.Ok => TypedResults.Created($"/api/snapshots/{snapshot!.Id}", SnapshotResponse.From(snapshot)),
                SnapshotOutcome.NoMachine => Problem(StatusCodes.Status409Conflict, "Agent has no machine", "Only a machine an agent holds can be snapshotted."),
                SnapshotOutcome.NotSnapshottable => Problem(StatusCodes.Status409Conflict, "Machine cannot be snapshotted",
                    "Custom machines are the user's own hosts; the cloud provider can only image pool machines."),
                SnapshotOutcome.Busy => Problem(StatusCodes.Status409Conflict, "Snapshot deleted while it was being created",
                    "Its image was deleted again; nothing is left behind."),
                _ => Problem(StatusCodes.Status404NotFound, "Agent not found", $"No agent '{request.AgentId}' is visible to the caller."),
            };
        }
        catch (CloudProviderException ex)
        {
            return ProviderRefused(ex);
        }
    }

    /// <summary>Users see snapshots they took; operators see any.</summary>
    public static async Task<Results<Ok<IReadOnlyList<SnapshotResponse>>, ValidationProblem>> ListByMachine(
        ClaimsPrincipal caller, IMachineChildReads reads, [FromQuery] string? machineId, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("machineId", machineId is not null && InputRules.IsPlausibleId(machineId) ? null : "is required and must be a machine id");
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var snapshots = await reads.SnapshotsAsync(machineId!, caller.OwnerFilter(), cancellationToken);
        return TypedResults.Ok<IReadOnlyList<SnapshotResponse>>(snapshots.Select(SnapshotResponse.From).ToList());
    }

    public static async Task<Results<Ok<SnapshotResponse>, ProblemHttpResult>> Get(
        string id, ClaimsPrincipal caller, FleetDbContext db, CancellationToken cancellationToken)
    {
        var owner = caller.OwnerFilter();
        var snapshot = InputRules.IsPlausibleId(id)
            ? await db.MachineSnapshots.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id && (owner == null || s.UserId == owner), cancellationToken)
            : null;
        return snapshot is null ? SnapshotNotFound(id) : TypedResults.Ok(SnapshotResponse.From(snapshot));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string id, ClaimsPrincipal caller, SnapshotService snapshots, CancellationToken cancellationToken)
    {
        try
        {
            var outcome = InputRules.IsPlausibleId(id) ? await snapshots.DeleteAsync(id, caller.OwnerFilter(), cancellationToken) : SnapshotOutcome.NotFound;
            return outcome switch
            {
                SnapshotOutcome.Ok => TypedResults.NoContent(),
                SnapshotOutcome.Busy => Problem(StatusCodes.Status409Conflict, "Snapshot is still being created",
                    "Its image does not exist yet; delete it once the create has finished."),
                _ => SnapshotNotFound(id),
            };
        }
        catch (CloudProviderException ex)
        {
            return ProviderRefused(ex);
        }
    }

    private static ProblemHttpResult SnapshotNotFound(string id) => Problems.NotFound("snapshot", id);

    /// <summary>The provider said no for a reason retrying will not fix (its transient faults surface as 503).</summary>
    private static ProblemHttpResult ProviderRefused(CloudProviderException ex) =>
        Problem(StatusCodes.Status502BadGateway, "The cloud provider refused", $"Provider answered {ex.StatusCode} {ex.Code}.");

    private static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(statusCode: status, title: title, detail: detail);
}
