using System.Security.Claims;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace FleetAspire.Migration.Apis;

/// <param name="Class">Optional: only this class of report on the row (default: every open report on it).</param>
/// <param name="Resolution">Why the row may go as it is — recorded, shown in <c>GET /api/migration/dirty</c>.</param>
public sealed record DirtyResolution(string? Entity, string? EntityId, string? Class, string? Resolution);

public sealed record DirtyResolved(string Entity, string EntityId, int Resolved);

/// <summary>What the contract needs from operators: dirty rows resolved, and the contract set's progress.</summary>
public static class ContractApi
{
    public const int MaxResolutionLength = 500;

    public static RouteGroupBuilder MapContractApi(this RouteGroupBuilder api)
    {
        api.MapPost("/dirty/resolve", ResolveDirty).WithName("ResolveDirtyRow")
            .WithSummary("Record a resolution for a dirty row (e.g. the legacy row is wrong and goes with the contract): closes its open reports");
        api.MapGet("/contract", Steps).WithName("ContractSteps")
            .WithSummary("The contract set's steps: owed from the flip to Contracted, applied one by one by the control service");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<ContractStepState>>> Steps(ContractRunner contract, CancellationToken cancellationToken) =>
        TypedResults.Ok(await contract.StatusAsync(cancellationToken));

    public static async Task<Results<Ok<DirtyResolved>, ValidationProblem, ProblemHttpResult>> ResolveDirty(
        DirtyResolution request, ClaimsPrincipal caller, NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("entity", string.IsNullOrWhiteSpace(request.Entity) ? "is required" : null)
            .Check("entityId", string.IsNullOrWhiteSpace(request.EntityId) ? "is required" : null)
            .Check("resolution", string.IsNullOrWhiteSpace(request.Resolution) ? "is required: the audit keeps why the row may go as it is"
                : request.Resolution.Length > MaxResolutionLength ? $"must be at most {MaxResolutionLength} characters" : null);
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            UPDATE migration_dirty_rows SET resolved_at = now(), resolution = @resolution, resolved_by = @actor
            WHERE entity = @entity AND entity_id = @id AND resolved_at IS NULL AND (@class::text IS NULL OR class = @class)
            """, connection);
        command.Parameters.AddWithValue("resolution", request.Resolution!);
        command.Parameters.AddWithValue("actor", caller.UserId());
        command.Parameters.AddWithValue("entity", request.Entity!);
        command.Parameters.AddWithValue("id", request.EntityId!);
        command.Parameters.Add(new NpgsqlParameter("class", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)request.Class ?? DBNull.Value });
        var resolved = await command.ExecuteNonQueryAsync(cancellationToken);
        return resolved == 0
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No open dirty row",
                detail: $"{request.Entity} {request.EntityId} has no open dirty report{(request.Class is null ? "" : $" of class {request.Class}")}.")
            : TypedResults.Ok(new DirtyResolved(request.Entity!, request.EntityId!, resolved));
    }

    /// <summary>Backfill, verification and repair read the legacy model: once it is dropped they answer 409, not 500.</summary>
    public static async ValueTask<object?> RefuseWhenContracted(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var phases = context.HttpContext.RequestServices.GetRequiredService<PhaseStore>();
        var current = await phases.ReadAsync(context.HttpContext.RequestAborted);
        return current.Phase == TransitionPhase.Contracted
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The legacy model is gone",
                detail: "The fleet is Contracted: the legacy columns and tables this operation reads have been dropped.")
            : await next(context);
    }
}
