using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Repair;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Application;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace FleetAspire.Migration.Apis;

/// <summary>The migration control API (port 5105). Operator-only, every route.</summary>
public static class MigrationApi
{
    public static IEndpointRouteBuilder MapMigrationApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/migration").WithTags("Migration").RequireAuthorization(AuthNames.OperatorPolicy);
        api.MapGet("/", Status).WithName("GetMigrationStatus");
        // Each control route runs only in the phases where it means something (ControlOperations); elsewhere 409.
        api.MapPost("/backfill/start", Start).WithName("StartBackfill").WithSummary("Start the backfill from the beginning")
            .AllowedIn(ControlOperations.BackfillStart);
        api.MapPost("/backfill/pause", Pause).WithName("PauseBackfill").AllowedIn(ControlOperations.BackfillPause);
        api.MapPost("/backfill/resume", Resume).WithName("ResumeBackfill").AllowedIn(ControlOperations.BackfillResume);
        api.MapPost("/backfill/catch-up", CatchUp).WithName("CatchUpBackfill")
            .WithSummary("Reopen a finished backfill's catch-up for legacy writes made since it finished")
            .AllowedIn(ControlOperations.BackfillCatchUp);
        api.MapPost("/verify", Verify).WithName("VerifyMigration")
            .WithSummary("Run a verification now: full (default) or incremental (?mode=incremental, only what changed since the last run)")
            .AllowedIn(ControlOperations.Verify);
        api.MapGet("/divergences", Divergences).WithName("ListDivergences");
        api.MapPost("/repair", Repair).WithName("RepairDivergences")
            .WithSummary("Rewrite the non-authoritative side from the authoritative side of the phase for every open divergence (dry run unless apply: true)")
            .AllowedIn(ControlOperations.Repair);
        api.MapDirtyRowsApi();
        api.MapPhaseApi();
        api.MapContractApi();
        return app;
    }

    public static async Task<Ok<MigrationStatus>> Status(MachineBackfill backfill, MachineVerifier verifier, PhaseStore phases, PhaseGates gates,
        ContractRunner contract, DirtyRows dirtyRows, Microsoft.Extensions.Options.IOptions<PhaseGateOptions> settings, CancellationToken cancellationToken)
    {
        var dirty = (await dirtyRows.OpenCountsAsync(cancellationToken)).GroupBy(c => c.Key.Class).ToDictionary(g => g.Key, g => g.Sum(c => c.Value));
        var view = await PhaseApi.ViewAsync(phases, gates, cancellationToken);
        return TypedResults.Ok(new MigrationStatus(view.Phase, view.Epoch, view, await backfill.ProgressAsync(cancellationToken), dirty,
            await verifier.LastAsync(cancellationToken))
        {
            Contract = await contract.StatusAsync(cancellationToken),
            Settings = new PhaseSettings(settings.Value.QuietPeriod, settings.Value.ContractSoak, settings.Value.OldCodeWindow),
        });
    }

    public static async Task<Results<Ok<RepairReport>, ProblemHttpResult>> Repair(RepairRequest? request, MachineRepair repair,
        System.Security.Claims.ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var report = await repair.RunAsync(request?.Apply ?? false, caller.UserId(), cancellationToken);
        return report is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Nothing to repair in MachineOnly",
                detail: "Legacy is not maintained in MachineOnly; leaving it runs the reverse sync.")
            : TypedResults.Ok(report);
    }

    public static async Task<Accepted<BackfillProgress>> Start(MachineBackfill backfill, BackfillRunner runner, CancellationToken cancellationToken)
    {
        await backfill.StartAsync(cancellationToken);
        runner.Wake();
        return TypedResults.Accepted("/api/migration", await backfill.ProgressAsync(cancellationToken));
    }

    public static async Task<Results<Ok<BackfillProgress>, ProblemHttpResult>> Pause(MachineBackfill backfill, CancellationToken cancellationToken) =>
        await Transition(backfill, BackfillStates.Running, b => b.PauseAsync(cancellationToken), cancellationToken);

    public static async Task<Results<Ok<BackfillProgress>, ProblemHttpResult>> Resume(MachineBackfill backfill, BackfillRunner runner, CancellationToken cancellationToken)
    {
        var result = await Transition(backfill, BackfillStates.Paused, b => b.ResumeAsync(cancellationToken), cancellationToken);
        runner.Wake();
        return result;
    }

    public static async Task<Results<Ok<BackfillProgress>, ProblemHttpResult>> CatchUp(MachineBackfill backfill, BackfillRunner runner, CancellationToken cancellationToken)
    {
        var result = await Transition(backfill, BackfillStates.Done, b => b.CatchUpAgainAsync(cancellationToken), cancellationToken);
        runner.Wake();
        return result;
    }

    public static async Task<Results<Ok<VerificationSummary>, ValidationProblem>> Verify(
        MachineVerifier verifier, [FromQuery] string? mode, CancellationToken cancellationToken)
    {
        return mode switch
        {
            null or VerificationModes.Full => TypedResults.Ok(await verifier.VerifyAsync(cancellationToken)),
            VerificationModes.Incremental => TypedResults.Ok(await verifier.VerifyIncrementalAsync(cancellationToken)),
            _ => TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["mode"] = ["must be 'full' or 'incremental'"] }),
        };
    }

    public static async Task<Results<Ok<Page<DivergenceRecord>>, ValidationProblem>> Divergences(
        NpgsqlDataSource db, [FromQuery] string? entity, [FromQuery] string? kind, [FromQuery] string? state,
        [FromQuery] string? after, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("entity", entity is null or "machines" or "agents" or "machine_snapshots" or "machine_health_checks" ? null : "is not a migrated entity")
            .Check("kind", kind is null || typeof(DivergenceKinds).GetFields().Any(f => (string?)f.GetValue(null) == kind) ? null : "is not a divergence kind")
            .Check("state", state is null or "open" or "resolved" ? null : "must be 'open' or 'resolved'")
            .Check("after", InputRules.Cursor(after))
            .Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var take = limit ?? InputRules.DefaultPageSize;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        // The cursor is the entity id; within one page, rows of one id sort by field and kind.
        await using var command = new NpgsqlCommand("""
            SELECT entity, entity_id, field, kind, legacy_value, machine_value, source, first_seen, last_seen, resolved_at
            FROM migration_divergences
            WHERE (@entity::text IS NULL OR entity = @entity) AND (@kind::text IS NULL OR kind = @kind)
              AND (@state::text IS NULL OR (@state = 'open') = (resolved_at IS NULL))
              AND (@after::text IS NULL OR entity_id > @after)
            ORDER BY entity_id, entity, field, kind
            LIMIT @take
            """, connection);
        command.Parameters.AddWithValue("entity", (object?)entity ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.AddWithValue("kind", (object?)kind ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.AddWithValue("state", (object?)state ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.AddWithValue("after", (object?)after ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters.AddWithValue("take", take + 1);
        var rows = new List<DivergenceRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new DivergenceRecord(reader.Get<string>("entity"), reader.Get<string>("entity_id"), reader.Get<string>("field"),
                reader.Get<string>("kind"), reader.GetStringOrNull("legacy_value"), reader.GetStringOrNull("machine_value"),
                reader.Get<string>("source"), reader.Get<DateTimeOffset>("first_seen"), reader.Get<DateTimeOffset>("last_seen"),
                reader.GetOrNull<DateTimeOffset>("resolved_at")));
        }

        var items = rows.Take(take).ToList();
        return TypedResults.Ok(new Page<DivergenceRecord>(items, rows.Count > take ? items[^1].EntityId : null));
    }

    private static async Task<Results<Ok<BackfillProgress>, ProblemHttpResult>> Transition(
        MachineBackfill backfill, string requiredState, Func<MachineBackfill, Task> change, CancellationToken cancellationToken)
    {
        var before = await backfill.ProgressAsync(cancellationToken);
        if (before.State != requiredState)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Backfill is not " + requiredState,
                detail: $"The backfill is {before.State}.");
        }

        await change(backfill);
        return TypedResults.Ok(await backfill.ProgressAsync(cancellationToken));
    }
}
