<#
.SYNOPSIS
    The README's demo: a guest agent on a temporary socket, driven through the module.
.DESCRIPTION
    Starts our agent (or Debian's qemu-ga when ours is not built) in unix-listen mode, standing
    in for a VM's virtio-serial chardev, imports the module from out/QemuGuest and runs real
    guest commands, printing what it does. The agent is always stopped, by its own pid.

    With -VM the same demo runs against a real QEMU VM instead: the tests/e2e guest (Debian's
    kernel under TCG, our NativeAOT agent on a virtio-serial port), which it then shuts down
    through the agent. The VM is always stopped, by its own pid.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [switch] $VM
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot 'LocalAgent.psm1') -Force


function Show([string] $What, [scriptblock] $Body) {
    Write-Host ''
    Write-Host "PS> $What" -ForegroundColor Yellow
    $out = & $Body
    if ($null -ne $out) { $out | Out-Host }
}

if ($VM) {
    Import-Module (Join-Path $PSScriptRoot '../tests/e2e/E2eVm.psm1') -Force
    Write-Host 'Building the VM image (Debian kernel + busybox + our NativeAOT agent; cached under out/e2e)...'
    $image = New-E2eImage
    $agent = Start-E2eVm -Image $image -Agent Ours -Name demo
}
else {
    $kind = if (Get-OurAgentPath) { 'Ours' } else { 'Stock' }
    $agent = Start-LocalAgent -Kind $kind
}
try {
    if ($VM) {
        Write-Host "Booted a QEMU VM (TCG, $($image.KernelPackage), qemu pid $($agent.Pid)) to its QemuGuest agent in $($agent.BootSeconds) s; agent channel $($agent.Socket)"
    }
    else {
        Write-Host "Started $(if ($kind -eq 'Ours') { 'the QemuGuest agent' } else { "Debian's qemu-ga" }) (pid $($agent.Pid)) on $($agent.Socket)"
    }
    Import-Module $ModulePath
    Write-Host "Imported QemuGuest $((Get-Module QemuGuest).Version) from $ModulePath"

    $session = $null
    Show "`$s = New-VMGuestSession -ConnectionString '$($agent.ConnectionString)' -Name demo" {
        $script:session = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name demo
        $script:session
    }
    $s = $script:session
    Show 'Test-VMGuestAgent -Session $s; Get-VMGuestAgent -Session $s | Select-Object Version, @{n=''Commands'';e={$_.SupportedCommands.Count}}' {
        Test-VMGuestAgent -Session $s
        Get-VMGuestAgent -Session $s | Select-Object Version, @{ n = 'Commands'; e = { $_.SupportedCommands.Count } }
    }
    Show 'Get-VMGuestOSInfo -Session $s' {
        Get-VMGuestOSInfo -Session $s
    }
    Show 'Get-VMGuestHostName -Session $s' {
        Get-VMGuestHostName -Session $s
    }
    Show 'Get-VMGuestTimeZone -Session $s | Format-List' {
        Get-VMGuestTimeZone -Session $s | Format-List
    }
    Show 'Invoke-VMGuestRpc -Session $s guest-get-time   # any command by its wire name' {
        Invoke-VMGuestRpc -Session $s guest-get-time
    }
    # The headline: a folder into the guest and back, and a command run in the guest. Without
    # -VM the "guest" is this machine, so both sides are temporary folders here.
    $work = Join-Path ([IO.Path]::GetTempPath()) ('qg-demo-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path "$work/project/src"
    # The VM's guest is busybox: sh, no bash.
    if ($VM) { $guest = '/mnt/data'; $shell = 'Sh' } else { $guest = "$work/guest"; $shell = 'Bash'; $null = New-Item -ItemType Directory -Path $guest }
    function Short([string] $Path) { if ($Path.StartsWith($work)) { $Path.Substring($work.Length) } else { $Path } }
    Set-Content "$work/project/README.txt" 'Copied into the guest by Copy-VMGuestFile.'
    Set-Content "$work/project/src/hello.sh" 'echo "Hello from $(hostname), running $(uname -sr)"'
    try {
        Show "Copy-VMGuestFile -Session `$s -LocalToGuest -Source $work/project -Destination $guest/project -Recurse -Verify -PassThru" {
            Copy-VMGuestFile -Session $s -LocalToGuest -Source "$work/project" -Destination "$guest/project" -Recurse -Verify -PassThru |
                Format-Table @{ n = 'Destination'; e = { Short $_.Destination } }, Bytes, Verified, Atomic -AutoSize
        }
        Show "Invoke-VMGuestCommand -Session `$s sh -ArgumentList $guest/project/src/hello.sh" {
            Invoke-VMGuestCommand -Session $s sh -ArgumentList "$guest/project/src/hello.sh" | Format-List ExitCode, StdOut
        }
        Show "Invoke-VMGuestScript -Session `$s -ScriptType $shell -ScriptText 'ls -R $guest/project > $guest/project/listing.txt; exit 3'" {
            Invoke-VMGuestScript -Session $s -ScriptType $shell -ScriptText "ls -R $guest/project > $guest/project/listing.txt; exit 3" | Format-List ExitCode
        }
        Show "Copy-VMGuestFile -Session `$s -GuestToLocal -Source $guest/project -Destination $work/back -Recurse -PassThru" {
            Copy-VMGuestFile -Session $s -GuestToLocal -Source "$guest/project" -Destination "$work/back" -Recurse -PassThru |
                Format-Table @{ n = 'Source'; e = { Short $_.Source } }, @{ n = 'Destination'; e = { Short $_.Destination } }, Bytes -AutoSize
        }
        Show "Get-Content $work/back/listing.txt" { Get-Content "$work/back/listing.txt" }
    }
    finally {
        Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
    }
    if ($VM) {
        Show 'Stop-VMGuest -Session $s -Confirm:$false   # guest-shutdown: the VM powers off' {
            Stop-VMGuest -Session $s -Confirm:$false
            $code = Wait-E2eVmExit -Vm $agent -TimeoutSec 60
            if ($null -eq $code) { throw 'the VM did not power off within 60 s of Stop-VMGuest' }
            "qemu (pid $($agent.Pid)) exited with $code"
        }
    }
    Show 'Get-VMGuestSession | Remove-VMGuestSession' {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }
    Write-Host ''
    Write-Host 'Demo finished.' -ForegroundColor Green
}
finally {
    if ($VM) { $agent | Stop-E2eVm } else { $agent | Stop-LocalAgent }
}
