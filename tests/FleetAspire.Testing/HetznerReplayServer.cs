using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FleetAspire.Testing;

/// <summary>
/// A local HTTP server answering like the Hetzner Cloud API (https://docs.hetzner.cloud): the response and error
/// shapes are Hetzner's, the state is a dictionary. The one permitted stand-in: the real API is unreachable here.
/// A new server is <c>initializing</c> until <see cref="BootAll"/>, like a real one is for its first minute.
/// </summary>
public sealed class HetznerReplayServer : IAsyncDisposable
{
    public const string Token = "hcloud-test-token";
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<long, JsonObject> _servers = new();
    private readonly ConcurrentDictionary<long, JsonObject> _images = new();
    private long _nextId = 4_711_000;

    private HetznerReplayServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();
    /// <summary>When set, the next request gets this status and Hetzner error code instead of its answer.</summary>
    public (int Status, string Code)? FailNext { get; set; }

    public IReadOnlyCollection<long> ServerIds => _servers.Keys.ToArray();

    public static async Task<HetznerReplayServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new HetznerReplayServer(app);
        server.Map(app);
        await app.StartAsync();
        BaseUrlFrom(server, app);
        return server;
    }

    public void BootAll()
    {
        foreach (var s in _servers.Values)
        {
            s["status"] = "running";
        }
    }

    private static void BaseUrlFrom(HetznerReplayServer server, WebApplication app) =>
        server.BaseUrl = new Uri(app.Urls.First() + "/v1/");

    private void Map(WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            ctx.Request.EnableBuffering();
            var body = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
            ctx.Request.Body.Position = 0;
            Requests.Enqueue(new RecordedRequest(ctx.Request.Method, ctx.Request.Path, ctx.Request.Headers.Authorization.ToString(), body));
            if (ctx.Request.Headers.Authorization != $"Bearer {Token}")
            {
                await Error(ctx, 401, "unauthorized", "unable to authenticate");
                return;
            }

            if (FailNext is { } fail)
            {
                FailNext = null;
                await Error(ctx, fail.Status, fail.Code, "injected failure");
                return;
            }

            await next();
        });

        app.MapPost("/v1/servers", async (HttpContext ctx) =>
        {
            var request = (await JsonNode.ParseAsync(ctx.Request.Body))!.AsObject();
            var id = Interlocked.Increment(ref _nextId);
            var server = new JsonObject
            {
                ["id"] = id,
                ["name"] = request["name"]!.GetValue<string>(),
                ["status"] = "initializing",
                ["created"] = DateTimeOffset.UtcNow.ToString("O"),
                ["public_net"] = new JsonObject
                {
                    ["ipv4"] = new JsonObject { ["id"] = id + 1, ["ip"] = $"198.51.100.{id % 250}", ["blocked"] = false },
                    ["ipv6"] = null,
                },
                ["labels"] = request["labels"]?.DeepClone(),
            };
            _servers[id] = server;
            return Results.Json(new JsonObject
            {
                ["server"] = server.DeepClone(),
                ["action"] = Action("create_server", id),
                ["next_actions"] = new JsonArray(Action("start_server", id)),
                ["root_password"] = null,
            }, statusCode: 201);
        });

        app.MapGet("/v1/servers/{id:long}", (long id) => _servers.TryGetValue(id, out var s)
            ? Results.Json(new JsonObject { ["server"] = s.DeepClone() })
            : NotFound());

        app.MapDelete("/v1/servers/{id:long}", (long id) => _servers.TryRemove(id, out _)
            ? Results.Json(new JsonObject { ["action"] = Action("delete_server", id) })
            : NotFound());

        app.MapPost("/v1/servers/{id:long}/actions/create_image", (long id) =>
        {
            if (!_servers.ContainsKey(id))
            {
                return NotFound();
            }

            var imageId = Interlocked.Increment(ref _nextId);
            var image = new JsonObject { ["id"] = imageId, ["type"] = "snapshot", ["status"] = "creating", ["image_size"] = 2.5 };
            _images[imageId] = image;
            return Results.Json(new JsonObject { ["image"] = image.DeepClone(), ["action"] = Action("create_image", id) }, statusCode: 201);
        });

        app.MapDelete("/v1/images/{id:long}", (long id) => _images.TryRemove(id, out _) ? Results.NoContent() : NotFound());
    }

    private static JsonObject Action(string command, long resourceId) => new()
    {
        ["id"] = resourceId + 100_000,
        ["command"] = command,
        ["status"] = "running",
        ["progress"] = 0,
        ["resources"] = new JsonArray(new JsonObject { ["id"] = resourceId, ["type"] = "server" }),
        ["error"] = null,
    };

    private static IResult NotFound() => Results.Json(
        new JsonObject { ["error"] = new JsonObject { ["code"] = "not_found", ["message"] = "resource not found" } }, statusCode: 404);

    private static Task Error(HttpContext ctx, int status, string code, string message)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

public sealed record RecordedRequest(string Method, string Path, string Authorization, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}
