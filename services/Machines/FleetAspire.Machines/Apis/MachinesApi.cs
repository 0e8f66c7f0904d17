using System.Security.Claims;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Errors;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Machines.Apis;

/// <summary>
/// The <c>machines</c> table queried on its own (issue 4). Users see only their own custom machines; operators see
/// every machine. Reads come from <c>Machine</c>, which the backfill fills during the expand phase.
/// </summary>
public static class MachinesApi
{
    public static IEndpointRouteBuilder MapMachinesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/machines").WithTags("Machines").RequireAuthorization();
        api.MapGet("/", List).WithName("ListMachines").WithSummary("Machines filtered by type, status, owner, assignment; keyset-paged");
        api.MapGet("/counts", Counts).WithName("CountMachines").WithSummary("How many machines per type and status");
        api.MapGet("/{id}", Get).WithName("GetMachine");
        return app;
    }

    public static async Task<Results<Ok<MachinePage>, ValidationProblem>> List(
        ClaimsPrincipal caller, FleetDbContext db,
        [FromQuery] string? type, [FromQuery] string? status, [FromQuery] string? userId, [FromQuery] bool? assigned,
        [FromQuery] string? after, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("type", type is null or MachineTypes.Hetzner or MachineTypes.Custom ? null : "must be 'hetzner' or 'custom'")
            .Check("status", status is null or MachineStatus.Launching or MachineStatus.Ready or MachineStatus.InUse or MachineStatus.Offline
                ? null : "must be launching, ready, in_use or offline")
            .Check("userId", userId is null ? null : InputRules.Name(userId, Limits.UserIdLength))
            .Check("after", InputRules.Cursor(after))
            .Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var query = Visible(caller, db);
        query = type is null ? query : query.Where(m => m.Type == type);
        query = status is null ? query : query.Where(m => m.Status == status);
        query = userId is null ? query : query.Where(m => m.UserId == userId);
        query = assigned is null ? query : query.Where(m => (m.CurrentAgent != null) == assigned);
        query = after is null ? query : query.Where(m => string.Compare(m.Id, after) > 0);
        var take = limit ?? InputRules.DefaultPageSize;
        var rows = await query.OrderBy(m => m.Id).Take(take + 1).Select(Project).ToListAsync(cancellationToken);
        var items = rows.Take(take).ToList();
        return TypedResults.Ok(new MachinePage(items, rows.Count > take ? items[^1].Id : null));
    }

    public static async Task<Results<Ok<MachineResponse>, ProblemHttpResult>> Get(
        string id, ClaimsPrincipal caller, FleetDbContext db, CancellationToken cancellationToken)
    {
        var machine = InputRules.IsPlausibleId(id)
            ? await Visible(caller, db).Where(m => m.Id == id).Select(Project).FirstOrDefaultAsync(cancellationToken)
            : null;
        return machine is null ? Problems.NotFound("machine", id) : TypedResults.Ok(machine);
    }

    public static async Task<Ok<IReadOnlyList<MachineCount>>> Counts(ClaimsPrincipal caller, FleetDbContext db, CancellationToken cancellationToken)
    {
        var counts = await Visible(caller, db).GroupBy(m => new { m.Type, m.Status })
            .Select(g => new MachineCount(g.Key.Type, g.Key.Status, g.LongCount()))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<MachineCount>>(counts.OrderBy(c => c.Type).ThenBy(c => c.Status).ToList());
    }

    private static IQueryable<Machine> Visible(ClaimsPrincipal caller, FleetDbContext db)
    {
        var owner = caller.OwnerFilter();
        var machines = db.Machines.AsNoTracking();
        return owner is null ? machines : machines.Where(m => m.Type == MachineTypes.Custom && m.UserId == owner);
    }

    private static readonly System.Linq.Expressions.Expression<Func<Machine, MachineResponse>> Project = m => new MachineResponse(
        m.Id, m.Type, m.HetznerMachineId, m.Name, m.Ipv4, m.Port, m.Status, m.UserId, m.Os, m.Arch, m.CpuCount, m.MemoryGb,
        m.CurrentAgent == null ? null : m.CurrentAgent.Id, m.LastSeenAt, m.CreatedAt);
}
