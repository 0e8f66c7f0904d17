using FleetAspire.Messaging;
using FleetAspire.Pool;
using FleetAspire.Pool.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapPoolApi();
app.MapOutboxApi();

app.Run();
