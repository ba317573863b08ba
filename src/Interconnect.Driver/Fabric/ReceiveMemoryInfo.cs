namespace Interconnect.Driver.Fabric;

/// <summary>One receive memory as the fabric holds it: where (for messages), its size and its UNIX mode.</summary>
internal readonly record struct ReceiveMemoryInfo(string Where, long Length, int Mode);
