namespace Interconnect.Driver.Agent;

/// <summary>Which kind of imcd answers on a cluster's socket, as its <see cref="WelcomeReply"/> says.</summary>
internal enum AgentMode
{
    /// <summary>A machine's agent in a cluster across machines: its directory is in etcd, its data path UCX.</summary>
    Machine,

    /// <summary><c>imcd --local</c>: a cluster on this machine only, its directory the control file, no etcd.</summary>
    Local,
}
