using System.Text.Json.Serialization;

namespace Interconnect.StreamBench;

/// <summary>Source-generated JSON for <see cref="Report"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(Report))]
internal sealed partial class ReportJson : JsonSerializerContext;
