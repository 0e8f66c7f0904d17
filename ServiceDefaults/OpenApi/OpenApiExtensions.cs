using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace FleetAspire.ServiceDefaults.OpenApi;

/// <summary>
/// Every service publishes its OpenAPI document at <see cref="DocumentPath"/> (anonymous: it describes the API, it
/// grants nothing), with a UI at <c>/scalar</c> in Development. The document says how to authenticate (a bearer JWT)
/// and which ProblemDetails answers an operation can give, the ones every operation shares included.
/// </summary>
public static class OpenApiExtensions
{
    public const string DocumentPath = "/openapi/v1.json";
    public const string BearerScheme = "Bearer";

    public static void AddFleetOpenApi(this IHostApplicationBuilder builder) =>
        builder.Services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, context, _) =>
            {
                // "FleetAspire.Agents" → "FleetAspire agents API".
                var service = context.ApplicationServices.GetRequiredService<IHostEnvironment>().ApplicationName.Split('.')[^1];
                document.Info.Title = $"FleetAspire {service.ToLowerInvariant()} API";
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "A token signed by the fleet's issuer; `sub` names the user, role `operator` the operators.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(DescribeSharedAnswersAsync);
        });

    public static void MapFleetOpenApi(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath).AllowAnonymous();
        if (app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference(o => o.WithOpenApiRoutePattern(DocumentPath)).AllowAnonymous();
        }
    }

    /// <summary>
    /// The answers the pipeline gives whatever the handler does: 401/403 where a token is required (and the bearer
    /// requirement), 429 from the rate limiter, 503 + Retry-After when the database or broker is unreachable; and
    /// those input and state give: 400 for bad input, 404 for an unknown or foreign id, 409 for a write the state refuses.
    /// </summary>
    private static async Task DescribeSharedAnswersAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var problem = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken);
        operation.Responses ??= new OpenApiResponses();
        void Answer(int status, string why)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!operation.Responses.ContainsKey(key))
            {
                operation.Responses[key] = new OpenApiResponse
                {
                    Description = why,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
                };
            }
        }

        var anonymous = metadata.OfType<IAllowAnonymous>().Any();
        if (!anonymous)
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
            Answer(StatusCodes.Status401Unauthorized, "No valid bearer token");
            Answer(StatusCodes.Status403Forbidden, "The token's role may not do this");
        }

        if (description.ParameterDescriptions.Count > 0)
        {
            Answer(StatusCodes.Status400BadRequest, "Bad input (field errors in `errors`)");
        }

        if (description.RelativePath?.Contains('{', StringComparison.Ordinal) == true)
        {
            Answer(StatusCodes.Status404NotFound, "No such id, or not the caller's");
        }

        if (description.HttpMethod is not null && !HttpMethods.IsGet(description.HttpMethod))
        {
            Answer(StatusCodes.Status409Conflict, "The current state (or migration phase) refuses this write; nothing was written");
        }

        Answer(StatusCodes.Status429TooManyRequests, "Over the caller's rate limit; see Retry-After");
        Answer(StatusCodes.Status503ServiceUnavailable, "Database or broker unreachable, or the migration phase moved; retry after Retry-After");
    }
}
