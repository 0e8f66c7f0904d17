using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FleetAspire.ServiceDefaults.Errors;

/// <summary>The ProblemDetails answers every API gives the same way.</summary>
public static class Problems
{
    /// <summary>
    /// 404 for a missing or invisible resource: the same answer for both, so ids do not reveal what exists. A hostile
    /// id is echoed back only as a short prefix.
    /// </summary>
    public static ProblemHttpResult NotFound(string what, string id) =>
        TypedResults.Problem(
            statusCode: StatusCodes.Status404NotFound,
            title: $"{char.ToUpperInvariant(what[0])}{what[1..]} not found",
            detail: $"No {what} '{(id.Length <= InputRules.MaxIdLength ? id : id[..InputRules.MaxIdLength] + "…")}' is visible to the caller.");

    public static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: title, detail: detail);
}
