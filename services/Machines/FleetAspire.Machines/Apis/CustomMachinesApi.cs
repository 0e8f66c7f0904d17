using System.Security.Claims;
using FleetAspire.Data;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Machines.Apis;

/// <summary>A custom machine as its owner sees it in lists; the sharedKey is never returned.</summary>
public sealed record CustomMachineResponse(
    string Id, string Ipv4, int Port, string UserId, string? CurrentAgentId,
    string? Os, string? Arch, int? CpuCount, int? MemoryGb, DateTimeOffset CreatedAt);

public sealed record CustomMachinePage(IReadOnlyList<CustomMachineResponse> Items, string? NextCursor);

public static class CustomMachinesApi
{
    public static IEndpointRouteBuilder MapCustomMachinesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/machines/custom").WithTags("Custom machines").RequireAuthorization();
        api.MapGet("/", List).WithName("ListCustomMachines").WithSummary("The caller's custom machines (operators: all)");
        return app;
    }

    public static async Task<Results<Ok<CustomMachinePage>, ValidationProblem>> List(
        ClaimsPrincipal caller, FleetDbContext db, [FromQuery] string? after, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("after", InputRules.Cursor(after)).Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var take = limit ?? InputRules.DefaultPageSize;
        var query = db.CustomMachines.AsNoTracking();
        if (!caller.IsOperator())
        {
            var userId = caller.UserId();
            query = query.Where(c => c.UserId == userId);
        }

        if (after is not null)
        {
            query = query.Where(c => string.Compare(c.Id, after) > 0);
        }

        var rows = await query.OrderBy(c => c.Id).Take(take + 1)
            .Select(c => new CustomMachineResponse(c.Id, c.Ipv4, c.Port, c.UserId, c.CurrentAgentId, c.Os, c.Arch, c.CpuCount, c.MemoryGb, c.CreatedAt))
            .ToListAsync(cancellationToken);
        var items = rows.Take(take).ToList();
        return TypedResults.Ok(new CustomMachinePage(items, rows.Count > take ? items[^1].Id : null));
    }
}
